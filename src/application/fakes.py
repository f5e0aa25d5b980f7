"""Hand-written fakes of every port, shipped with the ports; unit and BDD tests share them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

# FakeClock and the gateway's fakes (beside their ports, in application.gateway) have modules
# of their own; re-exported here so every fake can be imported from one module.
from application.fake_clock import FakeClock
from application.gateway.fake_streams import FakeStreamReader  # noqa: F401
from application.gateway.fakes import (  # noqa: F401
    FakeGatewayTelemetry,
    FakeLeases,
    FakeNotifications,
    FakeTickets,
)
from application.ports import (
    DeadLetter,
    DeadLetterUnavailable,
    PublishResult,
    RebalanceCallback,
    SourceUnavailable,
    StoreUnavailable,
)
from domain.model import Partition, Record, SseMessage


class FakeEventSource:
    """An in-memory consumer-group member over per-partition logs, with a committed offset each.

    `fetch` returns records after each unpaused partition's position; when there is nothing to
    return it advances `clock` by the timeout, as a real fetch would wait. `crash()` forgets
    positions so the next fetch starts again from the committed offsets, like a restart.
    """

    def __init__(self, clock: FakeClock, partitions: Sequence[Partition]) -> None:
        self._clock = clock
        self.logs: dict[Partition, list[Record]] = {p: [] for p in partitions}
        self.committed: dict[Partition, int] = dict.fromkeys(partitions, 0)
        self._position: dict[Partition, int] = dict(self.committed)
        self._assigned: set[Partition] = set(partitions)
        self._paused: set[Partition] = set()
        self._revoked: RebalanceCallback | None = None
        self._assigned_cb: RebalanceCallback | None = None
        self.commits = 0

    def append(
        self,
        partition: Partition,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...] = (),
    ) -> Record:
        log = self.logs[partition]
        record = Record(partition, len(log), key, value, headers)
        log.append(record)
        return record

    async def fetch(self, *, timeout_s: float, max_records: int) -> list[Record]:
        out: list[Record] = []
        for p in sorted(self._assigned - self._paused):
            log, pos = self.logs[p], self._position[p]
            take = log[pos : pos + max_records - len(out)]
            out.extend(take)
            self._position[p] = pos + len(take)
        if not out:
            self._clock.advance(timeout_s)
        return out

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        for p, offset in offsets.items():
            if p not in self._assigned:
                raise SourceUnavailable(f"{p} is not assigned", retriable=False)
            self.committed[p] = offset
        self.commits += 1

    def assignment(self) -> frozenset[Partition]:
        return frozenset(self._assigned)

    def pause(self, partitions: Collection[Partition]) -> None:
        self._paused |= set(partitions) & self._assigned

    def resume(self, partitions: Collection[Partition]) -> None:
        self._paused -= set(partitions)

    def paused(self) -> frozenset[Partition]:
        return frozenset(self._paused)

    def lag(self) -> dict[Partition, int]:
        return {p: len(self.logs[p]) - self._position[p] for p in self._assigned}

    def on_rebalance(self, *, revoked: RebalanceCallback, assigned: RebalanceCallback) -> None:
        self._revoked, self._assigned_cb = revoked, assigned

    async def revoke(self, partitions: Collection[Partition]) -> None:
        """Take partitions away, as a rebalance would (the revoke callback runs first)."""
        gone = frozenset(partitions)
        if self._revoked is not None:
            await self._revoked(gone)
        self._assigned -= gone
        self._paused -= gone

    async def assign(self, partitions: Collection[Partition]) -> None:
        """Give partitions (back), positioned at their committed offsets."""
        new = frozenset(partitions)
        self._assigned |= new
        for p in new:
            self._position[p] = self.committed[p]
        if self._assigned_cb is not None:
            await self._assigned_cb(new)

    def crash(self) -> None:
        """Lose everything not committed: positions go back to the committed offsets."""
        self._position = dict(self.committed)
        self._paused.clear()


@dataclass
class _UserStream:
    entries: list[tuple[str, SseMessage]] = field(default_factory=list)
    ids: dict[str, None] = field(default_factory=dict)  # in write order, oldest first


class FakeStreamStore:
    """Per-user streams in memory with the same dedup-by-event-id rule as the Redis script:
    the newest `dedup_window` event ids of each user (time-based expiry is not modelled)."""

    def __init__(self, *, dedup_window: int = 10_000) -> None:
        self._window = dedup_window
        self.streams: dict[str, _UserStream] = {}
        self.session_owners: dict[str, str] = {}
        self.available = True
        self.calls = 0
        self.refused_users: set[str] = set()  # users whose keys "hold the wrong type"
        self._seq = 0

    def _check(self) -> None:
        self.calls += 1
        if not self.available:
            raise StoreUnavailable("fake Redis is down")

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]:
        self._check()
        results = []
        for m in messages:
            if m.user_id in self.refused_users:
                results.append(PublishResult(m.event_id, "", False, refused="WRONGTYPE (fake)"))
                continue
            stream = self.streams.setdefault(m.user_id, _UserStream())
            if m.event_id in stream.ids:
                results.append(PublishResult(m.event_id, "", duplicate=True))
                continue
            self._seq += 1
            stream_id = f"{self._seq}-0"
            stream.entries.append((stream_id, m))
            stream.ids[m.event_id] = None
            while len(stream.ids) > self._window:
                del stream.ids[next(iter(stream.ids))]
            results.append(PublishResult(m.event_id, stream_id, duplicate=False))
        # Owners are set after the streams, as the script does, and answered per message.
        for index, m in enumerate(messages):
            if m.teaches_owner:  # the owner key is not the user's keys: it is written anyway
                owner = self.session_owners.setdefault(m.session_id, m.user_id)
                if results[index].refused is None:
                    results[index] = replace(results[index], owner=owner)
        return results

    async def owners(
        self, session_ids: Collection[str], claims: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        self._check()
        asked = set(session_ids) | set(claims or ())
        before = {s: self.session_owners[s] for s in asked if s in self.session_owners}
        for session_id, user_id in (claims or {}).items():
            self.session_owners.setdefault(session_id, user_id)
        return before

    async def ping(self) -> None:
        self._check()

    def events_of(self, user_id: str) -> list[SseMessage]:
        stream = self.streams.get(user_id)
        return [m for _, m in stream.entries] if stream else []


class FakeDeadLetters:
    """The dead-letter topic in memory; `available = False` makes sends fail."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []
        self.available = True
        self.calls = 0

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        self.calls += 1
        if not self.available:
            raise DeadLetterUnavailable("fake DLQ is down")
        self.letters.extend(letters)
