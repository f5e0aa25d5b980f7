"""Which offsets may be committed (SPEC §7): the lowest unfinished record bounds each partition."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.model import Partition


@dataclass(slots=True)
class _PartitionState:
    started: deque[int] = field(default_factory=deque)  # in start order, oldest first
    pending: set[int] = field(default_factory=set)  # started and not yet finished
    last_started: int = -1
    done_upto: int | None = None  # the Kafka commit offset: every record below it is finished
    committed: int | None = None


class OffsetTracker:
    """Records in flight per partition, and the commit offset each partition has earned."""

    def __init__(self) -> None:
        self._parts: dict[Partition, _PartitionState] = {}
        self._in_flight = 0
        self._finished_since_commit = 0

    def start(self, partition: Partition, offset: int) -> None:
        """A fetched record is now in flight; offsets must strictly increase per partition."""
        state = self._parts.get(partition)
        if state is None:
            state = self._parts[partition] = _PartitionState()
        if offset <= state.last_started:
            raise ValueError(
                f"offset {offset} of {partition} is not above the last started {state.last_started}"
            )
        state.last_started = offset
        state.started.append(offset)
        state.pending.add(offset)
        self._in_flight += 1

    def finish(self, partition: Partition, offset: int) -> None:
        """A record is done (published, ignored or dead-lettered); it must be in flight."""
        state = self._parts.get(partition)
        if state is None or offset not in state.pending:
            raise ValueError(f"offset {offset} of {partition} is not in flight")
        state.pending.remove(offset)
        self._in_flight -= 1
        self._finished_since_commit += 1
        # Advance past the finished prefix; each offset leaves the deque once: O(1) amortised.
        started = state.started
        while started and started[0] not in state.pending:
            state.done_upto = started.popleft() + 1

    def committable(self) -> dict[Partition, int]:
        """Per partition whose finished prefix moved past the last commit, its commit offset."""
        out: dict[Partition, int] = {}
        for partition, state in self._parts.items():
            done = state.done_upto
            if done is not None and (state.committed is None or done > state.committed):
                out[partition] = done
        return out

    def mark_committed(self, offsets: Mapping[Partition, int]) -> None:
        """The broker acknowledged these commit offsets; partitions since forgotten are skipped."""
        for partition, offset in offsets.items():
            state = self._parts.get(partition)
            if state is not None and (state.committed is None or offset > state.committed):
                state.committed = offset
        self._finished_since_commit = 0

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Revoked partitions: drop all their state, in-flight records included."""
        for partition in partitions:
            state = self._parts.pop(partition, None)
            if state is not None:
                self._in_flight -= len(state.pending)

    def in_flight(self) -> int:
        """Records started and not yet finished, over all partitions."""
        return self._in_flight

    def in_flight_for(self, partition: Partition) -> int:
        """Records of one partition started and not yet finished."""
        state = self._parts.get(partition)
        return len(state.pending) if state is not None else 0

    def finished_since_commit(self) -> int:
        """Records finished since the last `mark_committed`, to trigger count-based commits."""
        return self._finished_since_commit
