"""The @e2e world: real Kafka and Redis, `eventbridge bridge` and `gateway` as processes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from simulator.genesis_model import SimRecord
from simulator.load_procs import ServiceProcess
from simulator.load_sse import SseStream, mint_token, open_events
from simulator.processes import free_port
from simulator.produce import produce_all, produce_paced
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import group_backlog, read_topic
from tests.acceptance.world import Delivered, Letter, World, data_of

DEADLINE_S = 90.0


@dataclass
class Browser:
    """One open (or refused) `GET /v1/events` of a user."""

    stack: AsyncExitStack
    status: int
    headers: dict[str, str]
    stream: SseStream


@dataclass
class RealWorld(World):
    """One scenario's topic, consumer group and key prefixes on the shared Kafka and Redis."""

    services: Services | None = None
    unique: str = ""
    tmp: Path = Path()
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    pending: list[SimRecord] = field(default_factory=list)
    bridge: ServiceProcess | None = None
    gateway: ServiceProcess | None = None
    browsers: dict[str, list[Browser]] = field(default_factory=dict)
    _topic_ready: bool = False

    def __post_init__(self) -> None:
        s, u = self.svc, self.unique
        self.topic = f"genesis-{u}"
        self.group = f"eventbridge-{u}"
        self.gateway_port = free_port()
        self.settings = {
            "kafka": {
                "bootstrap_servers": s.kafka_bootstrap,
                "topic": self.topic,
                "group_id": self.group,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            "redis": {
                "url": s.redis_url,
                "sse_prefix": f"t{u}:user:",
                "session_prefix": f"t{u}:session:",
                "ticket_prefix": f"t{u}:ticket:",
            },
            "bridge": {"commit_interval_s": 0.3, "http_port": 0},
            "circuit_breaker": {"cool_down_s": 2.0},
            "gateway": {"host": "127.0.0.1", "port": self.gateway_port, "drain_s": 1.0},
            "auth": {"secret": self.secret},
            "metrics": {"log_level": "INFO"},
        }

    @property
    def svc(self) -> Services:
        assert self.services is not None
        return self.services

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def configure(self, section: str, **values: Any) -> None:
        started = self.bridge if section == "redis" else self.gateway
        assert started is None, f"configure {section} before its process starts"
        self.settings[section].update(values)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def run(self, work: Awaitable[Any]) -> Any:
        async def bounded() -> Any:
            async with asyncio.timeout(DEADLINE_S):
                return await work

        return self.runner.run(bounded())

    # Processes.
    def ensure_topic(self) -> None:
        if not self._topic_ready:
            self.run(create_topics_async(self.svc.kafka_bootstrap, {self.topic: 3}))
            self._topic_ready = True

    def ensure_bridge(self) -> ServiceProcess:
        if self.bridge is None:
            self.ensure_topic()
            self.bridge = ServiceProcess("bridge", self.settings, self.tmp / "bridge.log")
            self.bridge.start()
            self.bridge.wait_logged("bridge started")
        return self.bridge

    def ensure_gateway(self) -> ServiceProcess:
        if self.gateway is None:
            self.gateway = ServiceProcess("gateway", self.settings, self.tmp / "gateway.log")
            self.gateway.start()
            self.gateway.wait_http(f"{self.base_url}/livez")
        return self.gateway

    def start(self) -> None:
        self.ensure_bridge()

    def close(self) -> None:
        for browsers in self.browsers.values():
            for b in browsers:
                self.runner.run(b.stack.aclose())
        for proc in (self.gateway, self.bridge):
            if proc is not None:
                proc.terminate(grace_s=15)

    # Traffic.
    def send(self, record: SimRecord) -> None:
        self.pending.append(record)

    def flush(self) -> None:
        if self.pending:
            self.ensure_topic()
            self.run(produce_all(self.svc.kafka_bootstrap, self.topic, self.pending))
            self.pending = []

    def process(self) -> None:
        self.flush()
        self.ensure_bridge()
        self.eventually(self._drained, "the bridge to commit everything that arrived")

    async def _drained(self) -> bool:
        return await group_backlog(self.svc.kafka_bootstrap, self.topic, self.group) == 0

    def eventually(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        async def poll() -> None:
            while True:
                if await check():
                    return
                await asyncio.sleep(0.2)  # polling external processes, bounded by `run`

        try:
            self.run(poll())
        except TimeoutError:
            tail = self.bridge.tail() if self.bridge else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}") from None

    def restart_redis_during_traffic(self, rate: float = 150.0) -> None:
        """Produce what is pending at `rate`/s and restart redis-server half-way through."""
        local = self.svc.redis
        if local is None:
            pytest.skip("Redis is not a local process this run can restart")
        records = [replace(r, at=i / rate) for i, r in enumerate(self.pending)]
        self.pending = []

        async def go() -> None:
            producing = asyncio.create_task(
                produce_paced(self.svc.kafka_bootstrap, self.topic, records)
            )
            await asyncio.sleep(records[-1].at / 2)  # half-way through the traffic
            await asyncio.to_thread(local.stop)
            await asyncio.sleep(1.0)  # an outage of about a second
            # On this thread: the server dies with the thread that started it (PDEATHSIG).
            local.start()
            await producing

        self.ensure_bridge()
        self.run(go())

    # What happened.
    def _redis(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.svc.redis_url)

    def stream_length(self, user: str) -> int:
        async def xlen() -> int:
            client = self._redis()
            try:
                return int(await client.xlen(f"t{self.unique}:user:{{{user}}}:stream"))
            finally:
                await client.aclose()

        return int(self.run(xlen()))

    def connect(self, user: str, *, last_event_id: str | None = None, history: int = 0) -> Browser:
        """A browser of `user` opens the event stream (kept open until closed or the end)."""
        self.ensure_gateway()
        token = mint_token(self.secret, user)

        async def open_one() -> Browser:
            stack = AsyncExitStack()
            status, headers, stream = await stack.enter_async_context(
                open_events(self.base_url, token, last_event_id=last_event_id, history=history)
            )
            return Browser(stack, status, headers, stream)

        browser: Browser = self.run(open_one())
        if browser.status == 200:
            self.browsers.setdefault(user, []).append(browser)
        else:
            self.runner.run(browser.stack.aclose())
        return browser

    def disconnect(self, user: str) -> None:
        browser = self.browsers[user].pop(0)
        self.runner.run(browser.stack.aclose())

    def received(self, user: str) -> list[Delivered]:
        """Everything the gateway serves `user` from the start of their stream."""
        n = self.stream_length(user)
        if n == 0:
            return []
        browser = self.connect(user, history=n)
        assert browser.status == 200, browser.status
        try:
            frames = self.run(browser.stream.messages(n, within_s=DEADLINE_S))
        finally:
            self.browsers[user].remove(browser)
            self.runner.run(browser.stack.aclose())
        return [Delivered(f.id or "", f.event or "", data_of(f.text.encode())) for f in frames]

    def all_received(self) -> dict[str, list[Delivered]]:
        async def users() -> list[str]:
            client = self._redis()
            head = f"t{self.unique}:user:{{"
            try:
                keys = [k.decode() async for k in client.scan_iter(match=f"{head}*}}:stream")]
            finally:
                await client.aclose()
            return [k[len(head) : -len("}:stream")] for k in keys]

        return {user: self.received(user) for user in self.run(users())}

    def dead_letters(self) -> list[Letter]:
        dlq = self.run(read_topic(self.svc.kafka_bootstrap, f"{self.topic}.dlq"))
        return [Letter(None, v, h.get("dlq.reason", b"").decode()) for v, h in dlq]

    def all_committed(self) -> bool:
        return bool(self.run(self._drained()))

    def _summed(self, name: str) -> int:
        if self.bridge is None:
            return 0
        entries = self.bridge.log_entries()
        return sum(int(e.get(name) or 0) for e in entries if e.get("message") == "batch")

    def ignored(self) -> dict[str, int]:
        return {"any": self._summed("ignored")}

    def duplicates_suppressed(self) -> int:
        return self._summed("duplicates")

    def redis_down(self) -> None:
        if self.svc.redis is None:
            pytest.skip("Redis is not a local process this run can stop")
        self.svc.redis.stop()

    def redis_up(self) -> None:
        assert self.svc.redis is not None
        self.svc.redis.start()
