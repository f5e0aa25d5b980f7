"""One SSE connection: its start, then following the user's stream into its outbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from application.gateway.counts import GatewayCounts, Sampler
from application.gateway.outbox import HEARTBEAT, Bounds, Cut, Frame, Outbox, Reset, Retry
from application.gateway.ports import CloseReason, GatewayTelemetry, Leases, StreamReader
from application.gateway.signal import Signal
from application.gateway.start import Start
from application.ports import Clock, StoreUnavailable
from domain.gateway.entries import Entry, event_age, of_session, stored_age
from domain.gateway.notices import Notice, NoticeKind, decide
from domain.gateway.stream_ids import ZERO, StreamId, behind

Write = Callable[[list[Frame]], Awaitable[None]]
End = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConnectionDeps:
    """Exactly what a connection needs from its gateway (shared by all its connections)."""

    reader: StreamReader
    leases: Leases
    telemetry: GatewayTelemetry
    counts: GatewayCounts
    sampler: Sampler
    clock: Clock
    unregister: Callable[[Connection], None]
    retry_ms: int
    bounds: Bounds
    page: int


class Connection:
    """The stream, not pub/sub, decides what is sent: a notification is written as it is only
    when it continues exactly from the connection's cursor (it then holds what a read would
    return); any other wake-up (a gap, a tick that found the stream ahead, a resubscription)
    makes the connection read after its own cursor.

    The follow loop queues frames into the outbox; a writer task hands them to the HTTP
    adapter's `write`. The stream ends at `deadline`, the credential's expiry fixed when the
    connection was made.
    """

    # A gateway holds thousands of these: no per-instance dict.
    __slots__ = (
        "_beaten", "_cursor", "_deps", "_idle", "_session", "_start", "_wake",
        "conn_id", "outbox", "user_id",
    )  # fmt: skip

    def __init__(
        self,
        deps: ConnectionDeps,
        *,
        user_id: str,
        conn_id: str,
        deadline: float,
        session: bytes | None,
    ) -> None:
        self.user_id = user_id
        self.conn_id = conn_id
        self._deps = deps
        self._session = session
        self._start = Start(ZERO)
        self._cursor = ZERO
        self._wake = Signal()
        self._idle = False  # the follow loop waits for a wake-up: no read is running or due
        self._beaten = -1  # frames queued as of the last tick
        self.outbox = Outbox(bounds=deps.bounds, deadline=deadline, clock=deps.clock)

    @property
    def reason(self) -> CloseReason | None:
        return self.outbox.reason

    def begin(self, start: Start) -> None:
        """Where to start; set after the connection is registered, so no wake-up is missed."""
        self._start = start
        self._cursor = self.outbox.written = start.cursor

    def wake(self) -> None:
        self._wake.set()

    def notify(self, notice: Notice) -> NoticeKind:
        """A notification of this user: its entries are queued as they are (session filter
        applied, no read) when the connection is idle exactly at its previous id and has room
        for them; otherwise the connection reads, unless it already has them all."""
        kind = decide(self._cursor, notice)
        if kind is NoticeKind.IGNORED or self.outbox.reason is not None:
            return NoticeKind.IGNORED
        if kind is NoticeKind.DIRECT and self._idle and not self._wake.is_set():
            assert notice.entries is not None  # decide() says DIRECT only when carried
            if self.outbox.offer_events(of_session(notice.entries, self._session)):
                self._cursor = notice.last  # filtered-out entries are passed too
                return NoticeKind.DIRECT
        # Starting, reading, a read due, a gap, or no room: the stream decides.
        self._wake.set()
        return NoticeKind.READ

    def beat(self) -> None:
        """A tick: queue a heartbeat, unless a frame was queued since the last tick (the
        connection is not idle: it needs no keep-alive) or the outbox is full (data is due)."""
        if self.outbox.queued == self._beaten:
            self.outbox.offer(HEARTBEAT)
        self._beaten = self.outbox.queued

    def behind(self, newest: StreamId | None) -> bool:
        """Whether the stream holds an entry past this connection's cursor."""
        return behind(newest, self._cursor)

    def close(self, reason: CloseReason) -> None:
        self.outbox.close(reason)
        self._wake.set()

    async def serve(self, write: Write, end: End) -> None:
        """The connection's whole life: follow the stream, handing its frames to `write` as
        they come, until it is closed. A stream the gateway ends on purpose (token expiry,
        drain) is flushed, its closing frame written and `end()` called, for at most
        `slow_client_s`; `write` and `end` raise OSError once the client is gone."""
        self._deps.telemetry.connection_opened()
        writer = asyncio.create_task(self._write(write))
        try:
            await self._follow_until_closed()
        finally:
            if self.outbox.reason in ("token_expired", "shutdown"):
                await self._finish(writer, end)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self.outbox.discard()
            await self._closed()

    async def _follow_until_closed(self) -> None:
        try:
            await self._follow()
        except Cut:
            pass
        except BaseException:
            self.close("error")
            raise
        finally:
            self._deps.unregister(self)

    async def _follow(self) -> None:
        outbox, clock = self.outbox, self._deps.clock
        await outbox.put(Retry(self._deps.retry_ms))
        start = self._start
        if start.reset is not None:
            await outbox.put(Reset(start.reset, start.cursor, start.oldest))
        await self._deliver(start.entries)
        if start.reset or len(start.entries) >= self._deps.page:
            self._wake.set()  # after a reset, or a full first page, the rest follows at once
        # No read here: the start was read after registering with the hub, so anything newer
        # has already set `_wake`. Heartbeats come from the gateway's tick (`beat`).
        while True:
            self._idle = True
            with contextlib.suppress(TimeoutError):
                async with clock.deadline(outbox.deadline):
                    await self._wake.wait()
            self._idle = False
            self._wake.clear()
            if outbox.reason is not None:
                return
            if outbox.expired():
                self.close("token_expired")
                return
            with contextlib.suppress(StoreUnavailable):
                # Redis is down: the next tick or notification retries.
                await self._catch_up()

    async def _catch_up(self) -> None:
        """Read after the cursor until the stream is caught up, each read sized to the room the
        outbox has (a connection behind on large events holds a few of them, not a page)."""
        page, read, outbox = self._deps.page, self._deps.reader.read_after, self.outbox
        while outbox.reason is None:
            count = outbox.read_count(page)
            entries = await read(self.user_id, self._cursor, count)
            await self._deliver(entries)
            if len(entries) < count:
                return

    async def _deliver(self, entries: Sequence[Entry]) -> None:
        put = self.outbox.put
        for entry in of_session(entries, self._session):
            await put(entry)
        if entries:
            self._cursor = entries[-1].id.decode()  # filtered-out entries are passed too

    async def _write(self, write: Write) -> None:
        while True:
            frames, last = await self.outbox.take()
            if frames:
                await write(frames)
                self._sent(frames)
            self.outbox.done()
            if last:
                return

    def _sent(self, frames: list[Frame]) -> None:
        """`frames` were written: count the events; a sampled write, the latencies of its
        first (oldest) event."""
        events = [f for f in frames if type(f) is Entry]
        if events:
            deps = self._deps
            deps.counts.sent += len(events)
            if deps.sampler.due():
                now, first = deps.clock.unix(), events[0]
                deps.telemetry.latency(event_age(first.data, now), stored_age(first.id, now))

    async def _finish(self, writer: asyncio.Task[None], end: End) -> None:
        """End a healthy stream cleanly: flush what is queued and the closing frame, then end."""
        self.outbox.finish()
        if writer.done():
            return
        clock = self._deps.clock
        try:
            async with clock.deadline(clock.monotonic() + self._deps.bounds.slow_client_s):
                await asyncio.shield(writer)
                await end()
        except (TimeoutError, OSError):
            pass  # the client stopped reading or left; the writer is cancelled by the caller

    async def _closed(self) -> None:
        """Once the writer is gone: count the close and give the lease back (a draining
        gateway gives back all of them at once)."""
        self._deps.telemetry.connection_closed(self.outbox.reason or "error")
        if self.outbox.reason != "shutdown":
            with contextlib.suppress(StoreUnavailable):
                await self._deps.leases.release(self.user_id, self.conn_id)
