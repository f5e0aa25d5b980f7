"""A connection's outbox: the frames between its follow loop and its writer, bounded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.gateway.ports import CloseReason
from application.gateway.signal import Signal
from application.ports import Clock
from domain.gateway.entries import Entry
from domain.gateway.stream_ids import ZERO


@dataclass(frozen=True, slots=True)
class Retry:
    """`retry:`, first on every connection: how long EventSource waits before reconnecting."""

    ms: int


@dataclass(frozen=True, slots=True)
class Reset:
    """`event: reset` before anything else: entries after the client's position may be gone."""

    reason: str
    last_event_id: str
    oldest: str | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A comment that keeps an idle connection (and every proxy on its way) open."""


@dataclass(frozen=True, slots=True)
class Closing:
    """The last frame of a stream the gateway ends on purpose; `position` is the id of the last
    event really handed to the writer (or the start), None when there is none."""

    reason: str
    position: str | None


HEARTBEAT = Heartbeat()
# What a writer renders: an event (the stream entry itself) or one of the frames above.
Frame = Entry | Retry | Reset | Heartbeat | Closing


class Cut(Exception):
    """The connection was closed while it had frames to queue."""


class Outbox:
    """At most `capacity` frames. A writer that leaves it full for `slow_client_s` gets the
    connection cut (`slow_client`; the client resumes with Last-Event-ID and loses nothing).
    No event is queued at or after `deadline` (monotonic), nor handed to the writer then."""

    __slots__ = (
        "_capacity", "_clock", "_finishing", "_frames", "_ready", "_slow_client_s", "_space",
        "deadline", "queued", "reason", "written",
    )  # fmt: skip

    def __init__(self, *, capacity: int, slow_client_s: float, deadline: float, clock: Clock):
        self.deadline = deadline
        self.reason: CloseReason | None = None
        self.written = ZERO  # the position of the last event handed to the writer
        self.queued = 0  # frames queued so far (a tick sees whether any came since the last)
        self._capacity = capacity
        self._slow_client_s = slow_client_s
        self._clock = clock
        self._frames: list[Frame] = []
        self._ready = Signal()
        self._space = Signal()
        self._finishing = False

    def __len__(self) -> int:
        return len(self._frames)

    def expired(self) -> bool:
        return self._clock.monotonic() >= self.deadline

    def close(self, reason: CloseReason) -> None:
        """The first reason wins; a put waiting for space gives up."""
        if self.reason is None:
            self.reason = reason
        self._space.set()

    def offer(self, frame: Frame) -> None:
        """Queue `frame` only if there is room (a heartbeat: with a full buffer data is due)."""
        if self.reason is None and len(self._frames) < self._capacity:
            self._frames.append(frame)
            self.queued += 1
            self._ready.set()

    def offer_events(self, entries: Sequence[Entry]) -> bool:
        """Queue all of `entries` at once, or none: False when the connection is closed, past
        its deadline, or has no room for all of them (then the caller reads instead, and its
        puts wait for room under the slow-client rule)."""
        if self.reason is not None or len(self._frames) + len(entries) > self._capacity:
            return False
        if self.expired():
            return False
        if entries:  # all filtered out: nothing to wake the writer for
            self._frames += entries
            self.queued += len(entries)
            self._ready.set()
        return True

    async def put(self, frame: Frame) -> None:
        """Queue `frame`, waiting for room; raise Cut once the connection is closed (or is
        closed meanwhile: past its deadline, or by a writer too slow to make room)."""
        if self.reason is None and self.expired():
            self.close("token_expired")
        while len(self._frames) >= self._capacity and self.reason is None:
            self._space.clear()
            try:
                async with self._clock.deadline(self._clock.monotonic() + self._slow_client_s):
                    await self._space.wait()
            except TimeoutError:
                self.close("slow_client")
        if self.reason is not None:
            raise Cut
        self._frames.append(frame)
        self.queued += 1
        self._ready.set()

    def finish(self) -> None:
        """After the follow loop ended on purpose: what is queued, then the closing frame."""
        self._finishing = True
        self._ready.set()

    async def take(self) -> tuple[list[Frame], bool]:
        """The writer's next frames, and whether they are the last (they end with Closing)."""
        await self._ready.wait()
        self._ready.clear()
        frames, self._frames = self._frames, []
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
