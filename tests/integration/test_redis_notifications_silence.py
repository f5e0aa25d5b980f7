"""RedisNotifications against a Redis that stops answering without closing the connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection

from adapters.redis.client import open_client
from adapters.redis.keys import RedisKeys
from adapters.redis.node_connections import NodeConnector
from adapters.redis.notifications import RedisNotifications
from adapters.redis.settings import RedisSettings
from domain.gateway.notices import Notice
from simulator.services import Services
from tests.contracts.gateway_ports import eventually


def test_a_node_that_stops_answering_is_given_up_then_subscribed_again_and_reported(
    real_services: Services, unique: str
) -> None:
    settings = RedisSettings(url=real_services.redis_url, sse_prefix=f"t{unique}:user:")
    keys = RedisKeys(settings.sse_prefix)
    notifications = RedisNotifications(
        connector=NodeConnector(settings, client_name=f"silence-{uuid.uuid4().hex[:6]}"),
        keys=keys,
        cluster=False,
        idle_s=0.3,
    )
    restored: list[str] = []

    def notify(user: str, notice: Notice | None) -> None: ...

    def resubscribed(users: Collection[str]) -> None:
        restored.extend(users)

    async def scenario() -> None:
        task = asyncio.create_task(notifications.run(notify=notify, resubscribed=resubscribed))
        try:
            notifications.follow("u1")
            async with asyncio.timeout(10):
                await notifications.confirmed("u1")
            restored.clear()
            async with open_client(settings) as client:
                # The server keeps the connection open but answers nothing (not even PING)
                # for 3 s: only the subscriber's own watchdog can tell.
                await client.execute_command("CLIENT", "PAUSE", 3000, "ALL")
            await eventually(lambda: not notifications.subscribed, "the node given up", 10)
            await eventually(lambda: restored == ["u1"], "u1 subscribed again", 20)
            assert notifications.subscribed
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 60))
