"""One SSE connection: start (history or resume), then follow the user's stream until closed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Literal

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from adapters.gateway import sse
from adapters.gateway.streams import Entry, Start
from adapters.gateway.telemetry import event_age
from application.ports import StoreUnavailable
from domain.gateway.stream_ids import ZERO, parse_id

if TYPE_CHECKING:
    from adapters.gateway.gateway import Gateway

CloseReason = Literal["client", "token_expired", "slow_client", "shutdown", "error"]
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]


class SseConnection(Response):
    """The ASGI response of `GET /v1/events`; the stream, not pub/sub, decides what is sent.

    Frames wait in a buffer of at most `send_buffer` messages; a client that leaves it full for
    `slow_client_s` is cut off (it resumes with Last-Event-ID and loses nothing).
    The stream ends at its credential's `expires_at`; the deadline is fixed when the connection
    is made, and no event is queued or written at or after it.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        user_id: str,
        conn_id: str,
        expires_at: float,
        session: bytes | None,
    ) -> None:
        # Not Response.__init__: this response writes its own start and body frames.
        self.status_code = 200
        self.background = None
        self.user_id = user_id
        self.conn_id = conn_id
        self._gw = gateway
        self._loop = asyncio.get_running_loop()
        # Wall time (the token's clock) turned into loop time once, before anything is sent.
        self._deadline = self._loop.time() + (expires_at - gateway.wall())
        self._start = Start("0-0")
        self._session = session
        self._cursor = self._start.cursor
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        # (frame, the event's data, its entry id); data and id are None for non-event frames, and
        # the frame is None for the closing frame, which the writer renders (`_rendered`).
        self._buffer: list[tuple[bytes | None, bytes | None, bytes | None]] = []
        self._written = self._cursor  # the position of the last event the client was sent
        self._done = False
        self.reason: CloseReason | None = None

    def begin(self, start: Start) -> None:
        """Where to start; set after the connection is registered, so no wake-up is missed."""
        self._start = start
        self._cursor = self._written = start.cursor

    def wake(self) -> None:
        self._wake.set()

    def beat(self) -> None:
        """Queue a heartbeat comment, unless the buffer is full (then data is pending anyway)."""
        if self.reason is None and len(self._buffer) < self._gw.settings.send_buffer:
            self._buffer.append((sse.HEARTBEAT, None, None))
            self._ready.set()

    def behind(self, newest: tuple[int, int] | None) -> bool:
        """Whether the stream holds an entry past this connection's cursor."""
        return newest is not None and newest > (parse_id(self._cursor) or (0, 0))

    def close(self, reason: CloseReason) -> None:
        if self.reason is None:
            self.reason = reason
        self._wake.set()
        self._space.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self._gw
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        gw.telemetry.connection_opened()
        writer = asyncio.create_task(self._write(send))
        watcher = asyncio.create_task(self._watch(receive))
        try:
            await self._follow()
        except _Cut:
            pass
        except BaseException:
            self.close("error")
            raise
        finally:
            gw.hub.unregister(self)
            watcher.cancel()
            if self.reason in ("token_expired", "shutdown"):
                await self._finish(writer, send)
            writer.cancel()
            await asyncio.gather(writer, watcher, return_exceptions=True)
            gw.telemetry.connection_closed(self.reason or "error")
            if self.reason != "shutdown":  # a draining gateway releases all leases at once
                with contextlib.suppress(StoreUnavailable):
                    await gw.leases.release(self.user_id, self.conn_id)

    async def _follow(self) -> None:
        await self._put(sse.retry(self._gw.settings.retry_ms))
        if self._start.reset is not None:
            await self._put(sse.reset(self._start.reset, self._start.cursor, self._start.oldest))
        await self._deliver(self._start.entries)
        if self._start.reset or len(self._start.entries) >= self._gw.settings.replay_page:
            self._wake.set()  # after a reset, or a full first page, the rest follows at once
        # No read here: the start was read after registering with the hub, so anything newer
        # has already set `_wake`. Heartbeats come from the gateway's tick (`beat`).
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(self._deadline):
                    await self._wake.wait()
            self._wake.clear()
            if self.reason is not None:
                return
            if self._expired():
                self.close("token_expired")
                return
            try:
                await self._catch_up()
            except StoreUnavailable:
                self._gw.read_errors += 1  # Redis is down: the next tick or notification retries

    async def _catch_up(self) -> None:
        page = self._gw.settings.replay_page
        while self.reason is None:
            entries = await self._gw.streams.read_after(self.user_id, self._cursor, page)
            await self._deliver(entries)
            if len(entries) < page:
                return

    async def _deliver(self, entries: list[Entry]) -> None:
        for entry in entries:
            if self._session is None or entry.session == self._session:
                await self._put(
                    sse.message(entry.id, entry.event, entry.data), entry.data, entry.id
                )
            self._cursor = entry.id.decode()

    def _expired(self) -> bool:
        return self._loop.time() >= self._deadline

    async def _put(self, frame: bytes, data: bytes | None = None, id_: bytes | None = None) -> None:
        s = self._gw.settings
        if self.reason is None and self._expired():
            self.close("token_expired")
        while len(self._buffer) >= s.send_buffer and self.reason is None:
            self._space.clear()
            try:
                async with asyncio.timeout(s.slow_client_s):
                    await self._space.wait()
            except TimeoutError:
                self.close("slow_client")
        if self.reason is not None:
            raise _Cut
        self._buffer.append((frame, data, id_))
        self._ready.set()

    async def _write(self, send: Send) -> None:
        telemetry = self._gw.telemetry
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch, self._buffer = self._buffer, []
            self._space.set()
            if batch and self._expired():
                # Queued in time but not yet written: past the deadline no event goes out (the
                # client resumes from the closing frame's id and gets these events again).
                batch = [item for item in batch if item[1] is None]
            if batch:
                body = b"".join(self._rendered(frame, id_) for frame, _, id_ in batch)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                now = self._gw.wall()
                datas = [d for _, d, _ in batch if d is not None]
                ages = [a for a in (event_age(d, now) for d in datas) if a is not None]
                if datas:
                    telemetry.sent(len(datas), ages)
            if self._done and not self._buffer:
                return

    def _rendered(self, frame: bytes | None, id_: bytes | None) -> bytes:
        """A buffered frame as written, noting the position it moves the client to. The closing
        frame is rendered only here, so its id is the last event really written."""
        if frame is None:
            written = self._written if self._written != ZERO else None
            return sse.closing(self.reason or "error", written)
        if id_ is not None:
            self._written = id_.decode()
        return frame

    async def _finish(self, writer: asyncio.Task[None], send: Send) -> None:
        """End a healthy stream cleanly: flush what is buffered, then the final chunk."""
        self._buffer.append((None, None, None))
        self._done = True
        self._ready.set()
        if writer.done():
            return
        try:
            async with asyncio.timeout(self._gw.settings.slow_client_s):
                await asyncio.shield(writer)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (TimeoutError, OSError):
            pass  # the client stopped reading or left; the writer is cancelled below

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.close("client")
                return


class _Cut(Exception):
    """The connection was closed while it had frames to queue."""
