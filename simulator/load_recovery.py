"""How long each fault of a load run stopped deliveries, from what the browsers received.

A fault can only stop the deliveries it held: a Kafka broker's and a bridge's partitions, a
Redis master's and a gateway's users. For each fault, over the events in that scope:

- `resumed_s`: from the SIGKILL to the first browser receipt of an event produced after it
  (the path through the fault works again, end to end);
- `silent_s`: the longest gap between two receipts in scope from the last one before the
  SIGKILL until then (how long those browsers saw nothing; at most `resumed_s` plus the
  quiet before the kill, at least the noise floor of bursty traffic).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka.partitioner import DefaultPartitioner

from simulator.genesis_model import SimRecord
from simulator.load_faults import FaultRecord
from simulator.load_sse import Receipt


@dataclass(frozen=True)
class Recovery:
    """One fault's line in the report (times in seconds; `at_s` from the first event)."""

    kind: str
    target: str
    at_s: float
    down_s: float | None
    scope: str
    resumed_s: float | None
    silent_s: float | None
    notes: dict[str, float]


def partitions_of(records: Sequence[SimRecord], partitions: int) -> dict[str, int]:
    """Each deliverable event's partition, as the producer chose it (murmur2 of the key)."""
    every = list(range(partitions))
    pick = DefaultPartitioner()
    return {r.expect.event_id: pick(r.key, every, every) for r in records if r.expect.event_id}


def recoveries(
    faults: Sequence[FaultRecord],
    received: Mapping[str, Sequence[Receipt]],
    sent_at: Mapping[str, float],
    partition_of: Mapping[str, int],
    t0: float,
) -> list[Recovery]:
    """Each fault's `Recovery` (see the module's docstring)."""
    out = []
    for fault in faults:
        times, resumed = [], None
        for user, receipts in received.items():
            if fault.users is not None and user not in fault.users:
                continue
            for r in receipts:
                part = partition_of.get(r.event_id)
                if fault.partitions is not None and part not in fault.partitions:
                    continue
                times.append(r.at)
                sent = sent_at.get(r.event_id)
                if sent is not None and sent >= fault.at and (resumed is None or r.at < resumed):
                    resumed = r.at
        times.sort()
        out.append(
            Recovery(
                kind=fault.kind,
                target=fault.target,
                at_s=fault.at - t0,
                down_s=None if fault.restarted_at is None else fault.restarted_at - fault.at,
                scope=_scope(fault),
                resumed_s=None if resumed is None else resumed - fault.at,
                silent_s=None if resumed is None else _longest_gap(times, fault.at, resumed),
                notes=dict(fault.notes),
            )
        )
    return out


def _scope(fault: FaultRecord) -> str:
    if fault.partitions is not None:
        return f"partitions {','.join(map(str, sorted(fault.partitions)))}"
    if fault.users is not None:
        return f"{len(fault.users)} users"
    return "everything"


def _longest_gap(times: Sequence[float], start: float, end: float) -> float:
    """The longest gap between consecutive `times` from the last one at or before `start`
    (or `start` itself) up to `end` (a time in `times`)."""
    i = bisect.bisect_right(times, start)
    previous = times[i - 1] if i > 0 else start
    longest = 0.0
    for t in times[i:]:
        if t > end:
            break
        longest = max(longest, t - previous)
        previous = t
    return longest
