"""A connection's outbox: the frames between its follow loop and its writer, bounded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.gateway.counts import GatewayCounts
from application.gateway.frames import (
    FRAME_BYTES,
    HEARTBEAT,
    Closing,
    Frame,
    Heartbeat,
    Reset,
    Retry,
    entry_bytes,
)
from application.gateway.ports import CloseReason
from application.gateway.signal import Signal
from application.ports import Clock
from domain.gateway.entries import Entry
from domain.gateway.stream_ids import ZERO

__all__ = [
    "HEARTBEAT",
    "Bounds",
    "Closing",
    "Cut",
    "Frame",
    "Heartbeat",
    "Outbox",
    "Reset",
    "Retry",
]

# A connection that has not queued an event yet reads as if its events were this large.
UNKNOWN_ENTRY_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Bounds:
    """What every connection of a process may hold (shared by all of them): `messages` frames,
    `bytes` of frames queued or being written, and, over all connections, `process_bytes` (0:
    no bound) counted in `counts.buffered_bytes`; a buffer that stays full for
    `slow_client_s` is cut off."""

    messages: int
    bytes: int
    process_bytes: int
    slow_client_s: float
    counts: GatewayCounts


class Cut(Exception):
    """The connection was closed while it had frames to queue."""


class Outbox:
    """At most `messages` frames and `bytes` bytes, counted from when a frame is queued until
    the writer has written the batch it was in (so the batch a stalled client blocks counts
    too). A connection over the process's bound waits for room as if its own were full, unless
    it holds nothing (a connection that is not behind is never starved by others). A writer
    that leaves the buffer full for `slow_client_s` gets the connection cut (`slow_client`; the
    client resumes with Last-Event-ID and loses nothing), counted by the bound that was full.
    No event is queued at or after `deadline` (monotonic), nor handed to the writer then."""

    __slots__ = (
        "_bounds", "_clock", "_finishing", "_flight", "_frames", "_held", "_ready", "_space",
        "_unit", "deadline", "queued", "reason", "written",
    )  # fmt: skip

    def __init__(self, *, bounds: Bounds, deadline: float, clock: Clock):
        self.deadline = deadline
        self.reason: CloseReason | None = None
        self.written = ZERO  # the position of the last event handed to the writer
        self.queued = 0  # frames queued so far (a tick sees whether any came since the last)
        self._bounds = bounds
        self._clock = clock
        self._frames: list[Frame] = []
        self._held = 0  # bytes queued, plus the batch being written
        self._flight = 0  # bytes of the batch being written
        self._unit = 0  # bytes of the largest event queued so far (0: none yet)
        self._ready = Signal()
        self._space = Signal()
        self._finishing = False

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def held(self) -> int:
        return self._held

    def expired(self) -> bool:
        return self._clock.monotonic() >= self.deadline

    def close(self, reason: CloseReason) -> None:
        """The first reason wins; a put waiting for space gives up."""
        if self.reason is None:
            self.reason = reason
        self._space.set()

    def _full(self, frames: int, size: int) -> str | None:
        """The bound `frames` more frames of `size` bytes would exceed (None: they fit)."""
        b = self._bounds
        if len(self._frames) + frames > b.messages:
            return "messages"
        if self._held and self._held + size > b.bytes:
            return "bytes"
        if self._held and b.process_bytes and b.counts.buffered_bytes + size > b.process_bytes:
            return "process_bytes"
        return None

    def _add(self, size: int) -> None:
        self._held += size
        self._bounds.counts.buffered_bytes += size
        self._ready.set()

    def offer(self, frame: Frame) -> None:
        """Queue `frame` only if there is room (a heartbeat: with a full buffer data is due)."""
        if self.reason is None and self._full(1, FRAME_BYTES) is None:
            self._frames.append(frame)
            self.queued += 1
            self._add(FRAME_BYTES)

    def offer_events(self, entries: Sequence[Entry]) -> bool:
        """Queue all of `entries` at once, or none: False when the connection is closed, past
        its deadline, or has no room for all of them (then the caller reads instead, and its
        puts wait for room under the slow-client rule)."""
        if not entries:  # all filtered out: nothing to wake the writer for
            return self.reason is None and not self.expired()
        size = 0
        for entry in entries:
            size += len(entry.data) + len(entry.event) + len(entry.id)
        size += 32 * len(entries)  # frames.ENTRY_OVERHEAD, inlined on the hot path
        if self.reason is not None or self._full(len(entries), size) is not None:
            return False
        if self.expired():
            return False
        self._frames += entries
        self.queued += len(entries)
        self._unit = max(self._unit, size // len(entries))
        self._add(size)
        return True

    def read_count(self, page: int) -> int:
        """How many entries a read should ask for: about as many as there is room for, by the
        size of the largest event queued so far (at least 1, at most `page`)."""
        room = self._bounds.bytes - self._held
        return max(1, min(page, room // (self._unit or UNKNOWN_ENTRY_BYTES)))

    async def put(self, frame: Frame) -> None:
        """Queue `frame`, waiting for room; raise Cut once the connection is closed (or is
        closed meanwhile: past its deadline, or by a writer too slow to make room)."""
        if self.reason is None and self.expired():
            self.close("token_expired")
        size = entry_bytes(frame) if type(frame) is Entry else FRAME_BYTES
        while self.reason is None and (bound := self._full(1, size)) is not None:
            self._space.clear()
            clock = self._clock
            try:
                async with clock.deadline(clock.monotonic() + self._bounds.slow_client_s):
                    await self._space.wait()
            except TimeoutError:
                self.close("slow_client")
                self._bounds.counts.cuts[bound] += 1
        if self.reason is not None:
            raise Cut
        self._frames.append(frame)
        self.queued += 1
        if type(frame) is Entry and size > self._unit:
            self._unit = size
        self._add(size)

    def finish(self) -> None:
        """After the follow loop ended on purpose: what is queued, then the closing frame."""
        self._finishing = True
        self._ready.set()

    async def take(self) -> tuple[list[Frame], bool]:
        """The writer's next frames, and whether they are the last (they end with Closing).
        Their bytes stay held until the writer says they are written (`done`)."""
        await self._ready.wait()
        self._ready.clear()
        frames, self._frames = self._frames, []
        self._flight = self._held
        self._space.set()
        if frames and self.expired():
            # Queued in time but not yet written: past the deadline no event goes out (the
            # client resumes from the closing frame's id and gets these events again).
            frames = [f for f in frames if not isinstance(f, Entry)]
        for frame in reversed(frames):
            if isinstance(frame, Entry):
                self.written = frame.id.decode()
                break
        if not self._finishing:
            return frames, False
        position = self.written if self.written != ZERO else None
        frames.append(Closing(self.reason or "error", position))
        return frames, True

    def done(self) -> None:
        """The batch last taken is written: its bytes are room again."""
        self._release(self._flight)
        self._flight = 0
        self._space.set()

    def discard(self) -> None:
        """The connection is over: whatever it holds is given back to the process's count."""
        self._release(self._held)
        self._frames, self._flight = [], 0

    def _release(self, size: int) -> None:
        self._held -= size
        self._bounds.counts.buffered_bytes -= size
