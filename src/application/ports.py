"""Ports: the roles the application needs from the outside world, each with its contract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.port_errors import (
    DeadLetterUnavailable,
    PortError,
    ReplicasShort,
    SourceUnavailable,
    StoreUnavailable,
)
from domain.model import Partition, Record, SseMessage

__all__ = [  # the errors are the ports' too: importers keep `from application.ports import ...`
    "DeadLetterUnavailable",
    "PortError",
    "ReplicasShort",
    "SourceUnavailable",
    "StoreUnavailable",
]


class Clock(Protocol):
    """Time for the application; the domain never reads a clock."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for windows, cool-downs, intervals)."""
        ...

    def wall(self) -> datetime:
        """The current UTC time, timezone-aware (for timestamps and skew checks)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock (a fake clock just advances)."""
        ...

    def unix(self) -> float:
        """The current wall time in unix seconds (token expiry, leases shared by every gateway)."""
        ...

    def deadline(self, at: float) -> AbstractAsyncContextManager[object]:
        """A scope that is cancelled, raising TimeoutError on exit, once `monotonic()` reaches
        `at` (at once if it has); like `asyncio.timeout_at`, on this clock."""
        ...


RebalanceCallback = Callable[[frozenset[Partition]], Awaitable[None]]


class EventSource(Protocol):
    """A consumer-group member of the domain topic with manual commits.

    `fetch` returns raw records (bytes, never decoded here) in offset order per partition and
    raises SourceUnavailable only for errors that retrying cannot fix. `commit` is idempotent
    for equal offsets and raises SourceUnavailable when the group rejects it (for example after
    a rebalance took the partition away). Cancellation of `fetch` loses nothing: records not
    returned are fetched again. Rebalance callbacks run inside `fetch`, before it returns: a
    revoke while the partitions are still held (what is finished can be committed), and it may
    revoke every partition and assign some back (Kafka's eager assignors); `assigned` hears of
    the current assignment at the first fetch after `on_rebalance`, however early the group was
    joined. `lag` covers the partitions fetched from. (tests/contracts/test_event_source.py)
    """

    async def fetch(self, *, timeout_s: float, max_records: int) -> list[Record]: ...

    async def commit(self, offsets: Mapping[Partition, int]) -> None: ...

    def assignment(self) -> frozenset[Partition]: ...

    def pause(self, partitions: Collection[Partition]) -> None: ...

    def resume(self, partitions: Collection[Partition]) -> None: ...

    def paused(self) -> frozenset[Partition]: ...

    def lag(self) -> dict[Partition, int]: ...

    def on_rebalance(self, *, revoked: RebalanceCallback, assigned: RebalanceCallback) -> None: ...


@dataclass(slots=True)  # one per delivered event: not frozen, for the cost (domain/model.py)
class PublishResult:
    """What the store did with one message: its stream entry id, or that it was a duplicate;
    for a message that teaches its session's owner, the owner the index holds after the write
    (its own user when it was the first, else the owner that was there)."""

    event_id: str
    stream_id: str
    duplicate: bool
    owner: str | None = None
    # Redis refused to write this message's user keys, and would again (e.g. WRONGTYPE: the
    # key holds something else): why. The message is not written; the bridge dead-letters it.
    refused: str | None = None


class OwnerAnswer(dict[str, str]):
    """The owner index's answer: each asked session's owner before the call (a dict, session
    → user), and `refused`: the sessions whose owner key Redis refuses to read or claim, and
    would again (e.g. WRONGTYPE: something else wrote the key), with why. A refusal is that
    session's problem (its waiting events are dead-lettered), never an outage of the store."""

    __slots__ = ("refused",)

    def __init__(
        self, owners: Mapping[str, str] | None = None, refused: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(owners or {})
        self.refused: dict[str, str] = dict(refused or {})


class StreamStore(Protocol):
    """Per-user Redis streams with live notification (docs/redis-contract.md).

    `publish` writes a whole batch in as few round trips as the deployment allows and returns
    one result per message, in order. It is idempotent by (user, event_id): a message already
    in its user's dedup window comes back with `duplicate=True` and is not appended again.
    Messages with `teaches_owner` also record their session's owner if it has none (first
    owner wins) and answer the owner it has. Raises StoreUnavailable when Redis is unreachable;
    then nothing or part of the batch may be written, and retrying the whole batch is safe.
    With `min_replicas` > 0 it returns only once that many replicas confirmed every write
    (WAIT), and raises ReplicasShort (a StoreUnavailable) when fewer did in time.

    `owners` asks the session→owner index, in one round trip, for the owner of each session in
    `session_ids` and of each claimed session, and atomically makes each claimed user the
    owner of a session that has none (SET NX). It answers the owners as they were *before* the
    call: a claimed session missing from the answer had no owner and is now the claimed user's
    (unless it is `refused`: Redis refused its key, which is then neither read nor claimed).

    The dedup window is the newest `dedup_window` ids of each user, trimmed after each call; a
    user's stream and ids live `channel_ttl` seconds after the last call that appended to them,
    an owner `owner_ttl_s` after the last call that set or taught it. A user whose keys Redis
    refuses (wrong type) gets `refused` results and the rest of the batch is written.
    (tests/contracts/test_stream_store.py)
    """

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]: ...

    async def owners(
        self, session_ids: Collection[str], claims: Mapping[str, str] | None = None
    ) -> OwnerAnswer: ...

    async def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that cannot be delivered, with the reason it was refused."""

    record: Record
    code: str
    message: str


class DeadLetters(Protocol):
    """The dead-letter topic: keeps original key and bytes, adds reason and origin headers.

    `send` returns only after the broker acknowledged every letter (so the source offset may
    then be committed); raises DeadLetterUnavailable otherwise. Not idempotent: a crash between
    send and commit may dead-letter a record twice, which is harmless for inspection and replay.
    A letter larger than the topic takes is cut to fit (value, then original headers, then key)
    and marked truncated, never refused for its size. (tests/contracts/test_dead_letters.py)
    """

    async def send(self, letters: Sequence[DeadLetter]) -> None: ...


@dataclass(slots=True)
class BatchReport:
    """Everything that happened to one fetched batch, handed to Telemetry once per batch."""

    consumed: int = 0
    published_by_type: dict[str, int] = field(default_factory=dict)
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    dead_lettered: int = 0
    duplicates: int = 0
    publish_seconds: float | None = None
    end_to_end_seconds: list[float] = field(default_factory=list)  # event time -> Redis ack
    # Where the time went (issue 16), for a batch taken from a fetch (not a retry): produce ->
    # fetched per record (its Kafka CreateTime; at most HOP_SAMPLES of a batch, evenly
    # spaced), and fetched -> Redis ack for the batch.
    fetched_after_seconds: list[float] = field(default_factory=list)
    acked_after_fetch_seconds: float | None = None

    @property
    def published(self) -> int:
        return sum(self.published_by_type.values())

    def add(self, other: BatchReport) -> None:
        """Fold another batch's counts into this running total (latencies are not kept)."""
        self.consumed += other.consumed
        self.dead_lettered += other.dead_lettered
        self.duplicates += other.duplicates
        for mine, theirs in (
            (self.published_by_type, other.published_by_type),
            (self.ignored_by_reason, other.ignored_by_reason),
            (self.invalid_by_reason, other.invalid_by_reason),
            (self.dropped_by_reason, other.dropped_by_reason),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n


@dataclass(frozen=True, slots=True)
class BridgeHealth:
    """A snapshot of the bridge for /readyz, `eventbridge health` and the gauges (SPEC §9)."""

    breaker_state: str
    failure_rate: float
    totals: BatchReport
    publish_ok: int
    publish_failed: int
    lag: dict[Partition, int]
    assigned: int
    paused: int
    backlog: int
    seconds_without_assignment: float
    backlog_bytes: int = 0
    # Seconds records have been waiting (fetched, not finished) with nothing finished; 0 while
    # nothing waits. Readiness compares it with `bridge.stall_s`.
    stalled_s: float = 0.0
    # The last dead-letter failure, while dead letters keep failing (None once they go out).
    dead_letters_error: str | None = None
    # Writes Redis took but too few replicas confirmed (WAIT, redis.min_replicas), since start;
    # and the last such shortfall, until a write is confirmed again.
    replica_shortfalls: int = 0
    replica_shortfall: str | None = None

    @property
    def publish_success_rate(self) -> float:
        calls = self.publish_ok + self.publish_failed
        return self.publish_ok / calls if calls else 1.0


class PublishTrace(Protocol):
    """The spans of one publish attempt, ended once: `succeeded` or `failed`. Never raises."""

    def succeeded(self, results: Sequence[PublishResult]) -> None: ...

    def failed(self, error: str) -> None: ...


class Untraced:
    """A PublishTrace without spans."""

    __slots__ = ()

    def succeeded(self, results: Sequence[PublishResult]) -> None:
        return None

    def failed(self, error: str) -> None:
        return None


UNTRACED = Untraced()


class Telemetry(Protocol):
    """Metrics and traces, called with intent-named methods; never blocks, never raises, and
    never changes what is written.

    No method takes a user id: labels stay bounded (event type, reason code, breaker state).
    """

    def batch_processed(self, report: BatchReport) -> None: ...

    def publish_started(self, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        """A write of these messages starts; each carries its record's sampled traceparent
        (`SseMessage.traceparent`), and the application calls this only for those. Telemetry
        observes: the messages are written as they are, whatever it does; the results come
        back to the returned trace in the same order."""
        ...

    def breaker_changed(self, old: str, new: str) -> None: ...

    def partitions_paused(self, count: int) -> None: ...

    def partitions_resumed(self, count: int) -> None: ...
