"""A GatewayService over the hand-written fakes, and a client that records what it was sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from application.fakes import (
    FakeClock,
    FakeGatewayTelemetry,
    FakeLeases,
    FakeNotifications,
    FakeStreamReader,
    FakeTickets,
)
from application.gateway.connection import Connection
from application.gateway.outbox import Closing, Frame, Reset, Retry
from application.gateway.policy import GatewayPolicy
from application.gateway.service import GatewayService
from domain.gateway.credentials import Principal
from domain.gateway.entries import Entry
from domain.gateway.leases import LeasePolicy
from domain.gateway.restarts import RestartPolicy

# A fresh connection: no last id, no history, no session filter.
FRESH: dict[str, Any] = {"last_event_id": None, "history": 0, "session": None}


@dataclass
class Client:
    """What one connection wrote, frame by frame; `ended` once it ended on purpose."""

    frames: list[Frame] = field(default_factory=list)
    ended: bool = False
    reading: asyncio.Event = field(default_factory=asyncio.Event)  # clear: writes block
    wrote: asyncio.Event = field(default_factory=asyncio.Event)  # set by every write

    def __post_init__(self) -> None:
        self.reading.set()

    async def write(self, frames: list[Frame]) -> None:
        await self.reading.wait()  # a client that stops reading: its socket buffer is full
        self.frames += frames
        self.wrote.set()

    async def end(self) -> None:
        self.ended = True

    @property
    def events(self) -> list[str]:
        return [f.id.decode() for f in self.frames if isinstance(f, Entry)]

    @property
    def closing(self) -> Closing | None:
        last = self.frames[-1] if self.frames else None
        return last if isinstance(last, Closing) else None

    @property
    def reset(self) -> Reset | None:
        found = [f for f in self.frames if isinstance(f, Reset)]
        return found[0] if found else None

    @property
    def retry(self) -> Retry | None:
        return self.frames[0] if self.frames and isinstance(self.frames[0], Retry) else None


class FakeGateway:
    """One gateway process over fakes; time moves only with `clock.advance`."""

    def __init__(
        self,
        *,
        streams: FakeStreamReader | None = None,
        leases: FakeLeases | None = None,
        **policy: Any,
    ) -> None:
        lease = {k: policy.pop(k) for k in ("limit", "lease_s") if k in policy}
        self.clock = FakeClock(sleeps_wait=True)
        self.streams = streams or FakeStreamReader(maxlen=policy.pop("maxlen", 1000))
        self.notifications = FakeNotifications()
        self.lease_policy = LeasePolicy(**lease)
        self.leases = leases or FakeLeases(self.lease_policy)
        self.tickets = FakeTickets(self.clock)
        self.telemetry = FakeGatewayTelemetry()
        self.service = GatewayService(
            reader=self.streams,
            notifications=self.notifications,
            leases=self.leases,
            tickets=self.tickets,
            telemetry=self.telemetry,
            clock=self.clock,
            policy=GatewayPolicy(**policy),
            lease_policy=self.lease_policy,
            restart_policy=RestartPolicy(),
        )
        self._n = 0

    def principal(self, user: str, ttl_s: float = 300.0) -> Principal:
        return Principal(user, self.clock.unix() + ttl_s)

    def publish(self, user: str, n: int = 1, *, session: bytes = b"s") -> list[str]:
        """Append `n` events to `user`'s stream and notify, as the bridge does."""
        ids = []
        for _ in range(n):
            self._n += 1
            data = b'{"event_id":"e%d","timestamp":"2026-11-21T12:00:00+00:00"}' % self._n
            ids.append(self.streams.append(user, f"e{self._n}", session=session, data=data))
        self.notifications.publish(user, self.streams.notice(user, n))
        return ids

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeGateway]:
        """The subscription runs (the tick and renewal are driven by hand: `service.tick()`)."""
        hub = self.service.hub
        task = asyncio.create_task(
            self.notifications.run(notify=hub.notify, resubscribed=hub.resubscribed)
        )
        await self.notifications.until_subscribed()  # up before serving, as readiness requires
        try:
            yield self
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class Served:
    """A connection being served to a recording client, in a task."""

    def __init__(self, conn: Connection, client: Client | None = None) -> None:
        self.conn = conn
        self.client = client or Client()
        self.task = asyncio.create_task(conn.serve(self.client.write, self.client.end))

    async def until(self, n_events: int, within: float = 5.0) -> list[str]:
        async with asyncio.timeout(within):
            while len(self.client.events) < n_events:
                self.client.wrote.clear()
                await self.client.wrote.wait()
        return self.client.events

    async def ended(self, within: float = 5.0) -> Client:
        async with asyncio.timeout(within):
            await self.task
        return self.client


async def settle() -> None:
    """Let every ready task run until none is (fakes never block on I/O)."""
    for _ in range(50):
        await asyncio.sleep(0)
