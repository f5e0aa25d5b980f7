"""FakeEventSource: the EventSource port in memory, held to the Kafka adapter by a contract."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from application.fake_clock import FakeClock
from application.ports import RebalanceCallback, SourceUnavailable
from domain.model import Partition, Record


class FakeEventSource:
    """An in-memory consumer-group member over per-partition logs, with a committed offset each.

    `fetch` returns records after each unpaused partition's position; when there is nothing to
    return it advances `clock` by the timeout, as a real fetch would wait. The first fetch
    joins the group: the assigned callback runs inside it, as the adapter's does. `crash()`
    forgets positions so the next fetch starts again from the committed offsets (and joins
    again), like a restart. `lag` covers the partitions fetched from, as the adapter's.
    Records are stamped with the clock's wall time (Kafka's CreateTime).
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
        self._joined = False
        self._fetched: set[Partition] = set()
        self.commits = 0

    def append(
        self,
        partition: Partition,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...] = (),
    ) -> Record:
        log = self.logs[partition]
        created_ms = int(self._clock.wall().timestamp() * 1000)
        record = Record(partition, len(log), key, value, headers, created_ms)
        log.append(record)
        return record

    async def fetch(self, *, timeout_s: float, max_records: int) -> list[Record]:
        if not self._joined:
            self._joined = True
            if self._assigned_cb is not None:
                await self._assigned_cb(frozenset(self._assigned))
        out: list[Record] = []
        for p in sorted(self._assigned - self._paused):
            log, pos = self.logs[p], self._position[p]
            take = log[pos : pos + max_records - len(out)]
            out.extend(take)
            self._position[p] = pos + len(take)
            if take:
                self._fetched.add(p)
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
        fetched = self._assigned & self._fetched
        return {p: len(self.logs[p]) - self._position[p] for p in fetched}

    def on_rebalance(self, *, revoked: RebalanceCallback, assigned: RebalanceCallback) -> None:
        self._revoked, self._assigned_cb = revoked, assigned

    async def revoke(self, partitions: Collection[Partition]) -> None:
        """Take partitions away, as a rebalance would (the revoke callback runs first)."""
        gone = frozenset(partitions)
        if self._revoked is not None:
            await self._revoked(gone)
        self._assigned -= gone
        self._paused -= gone
        self._fetched -= gone

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
        self._fetched.clear()
        self._joined = False
