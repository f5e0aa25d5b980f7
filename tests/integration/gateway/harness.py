"""One test's gateway: settings with a unique key prefix, tokens, the real store, a live server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import orjson

from adapters.redis.client import make_client
from adapters.redis.keys import RedisKeys
from adapters.redis.store import RedisStreamStore
from application.fakes import FakeGatewayTelemetry
from domain.model import SseMessage
from eventbridge.gateway_runtime import run_gateway
from eventbridge.settings import EventBridgeSettings
from simulator.processes import free_port
from simulator.services import Services

SECRET = "integration-secret-of-at-least-32-bytes!"


class GatewayHarness:
    """Settings, tokens and Redis access for one test; `serve()` runs a real uvicorn."""

    def __init__(self, services: Services, unique: str, **sections: dict[str, Any]) -> None:
        self.port = free_port()
        values: dict[str, dict[str, Any]] = {
            "redis": {
                "url": services.redis_url,
                "cluster": services.redis_cluster,
                "sse_prefix": f"t{unique}:user:",
                "session_prefix": f"t{unique}:session:",
                "ticket_prefix": f"t{unique}:ticket:",
            },
            "gateway": {"host": "127.0.0.1", "port": self.port, "drain_s": 2.0},
            "auth": {"secret": SECRET},
        }
        for section, overrides in sections.items():
            values.setdefault(section, {}).update(overrides)
        self.settings = EventBridgeSettings(**values)  # type: ignore[arg-type]
        self.keys = RedisKeys(
            self.settings.redis.sse_prefix,
            self.settings.redis.session_prefix,
            self.settings.redis.ticket_prefix,
        )
        self.telemetry = FakeGatewayTelemetry()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.session = str(uuid.uuid4())

    def token(self, user: str, *, ttl_s: float = 300, key: str = SECRET, **claims: Any) -> str:
        body: dict[str, Any] = {"sub": user, "exp": int(time.time() + ttl_s), **claims}
        return jwt.encode(body, key, algorithm="HS256")

    @asynccontextmanager
    async def redis(self) -> AsyncIterator[Any]:
        client = make_client(self.settings.redis)
        try:
            yield client
        finally:
            await client.aclose()

    async def publish(
        self, user: str, n: int, *, session: str | None = None, size: int = 0
    ) -> list[str]:
        """Append `n` events for `user` with the bridge's own store; returns their stream ids."""
        session = session or self.session
        messages = []
        for i in range(n):
            event_id = str(uuid.uuid4())
            data = {
                "event_id": event_id,
                "event_type": "Genesis.Session.Theme.Proposed",
                "session_id": session,
                "correlation_id": None,
                "timestamp": datetime.now(UTC).isoformat(),
                "payload": {"n": i, "user": user, "filler": "x" * size},
            }
            messages.append(
                SseMessage(
                    user_id=user,
                    session_id=session,
                    event_id=event_id,
                    event_type="Genesis.Session.Theme.Proposed",
                    data=orjson.dumps(data),
                )
            )
        async with self.redis() as client:
            store = RedisStreamStore(client=client, settings=self.settings.redis)
            ids: list[str] = []
            for start in range(0, n, 200):
                results = await store.publish(messages[start : start + 200])
                ids += [r.stream_id for r in results]
        return ids

    @asynccontextmanager
    async def serve(self, *, otel: bool = False) -> AsyncIterator[GatewayHarness]:
        """Run the gateway in this loop until the block ends, then stop it gracefully.

        `otel`: the production telemetry (OpenTelemetry, `/metrics`) instead of the fake one.
        """
        stop, ready = asyncio.Event(), asyncio.Event()
        telemetry = None if otel else self.telemetry
        task = asyncio.create_task(
            run_gateway(self.settings, stop, ready=ready, telemetry=telemetry)
        )
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            await task
        assert ready.is_set(), "the gateway did not start"
        try:
            yield self
        finally:
            stop.set()
            async with asyncio.timeout(20):
                await task


async def get(gw: GatewayHarness, path: str, **kwargs: Any) -> httpx.Response:
    """One plain request to the gateway under test."""
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        return await client.get(path, **kwargs)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 10) -> None:
    """Poll `check` until it holds, failing with `what` at the deadline."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling an external condition with a deadline
