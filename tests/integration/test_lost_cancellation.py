"""Why application/cancelling.py exists, against the real Redis: on Python 3.11 a redis-py
call can swallow its task's cancellation (asyncio.wait_for, CPython gh-86296), and the gateway
still stops every time while its heartbeat tick and lease renewal talk to Redis."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys

import pytest

from adapters.redis.client import make_client
from adapters.redis.settings import RedisSettings
from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness
from tests.integration.gateway.sse_client import open_stream

pytestmark = pytest.mark.timeout(300)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for keeps cancels since 3.12")
def test_a_cancelled_redis_call_can_return_normally_its_cancel_lost(
    real_services: Services,
) -> None:
    """The canary: when this fails, redis-py or CPython no longer loses a cancel, and
    cancel_and_wait's second cancel is no longer needed (keep it; it costs nothing)."""

    async def scenario() -> int:
        client = make_client(RedisSettings(url=real_services.redis_url))
        rng, lost = random.Random(7), 0
        try:
            for _ in range(400):

                async def ping() -> bool:
                    await client.ping()
                    task = asyncio.current_task()
                    return task is not None and task.cancelling() > 0

                task = asyncio.create_task(ping())
                for _ in range(rng.randint(0, 12)):
                    await asyncio.sleep(0)  # land the cancel somewhere inside the call
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    lost += await task
        finally:
            await client.aclose()
        return lost

    assert asyncio.run(scenario()) > 0


def test_a_gateway_whose_loops_keep_talking_to_redis_stops_every_time(
    real_services: Services, unique: str
) -> None:
    """Heartbeat and renewal every 50 ms, so a stop lands inside their Redis calls; before
    cancel_and_wait about one stop in 15-100 (heartbeat 0.2 s) hung past the harness's 20 s."""
    for round_ in range(20):
        gw = GatewayHarness(real_services, f"{unique}{round_}", gateway={"heartbeat_s": 0.05})

        async def scenario(gw: GatewayHarness = gw) -> None:
            async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
                await stream.next()  # retry
                await stream.next(within=15)  # a heartbeat: the loops are running

        asyncio.run(scenario())  # the harness fails it when the stop takes over 20 s
