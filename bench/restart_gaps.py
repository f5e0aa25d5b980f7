"""When each partition's events landed in Redis, and how long a restart kept them from landing.

Redis stamps every stream entry with its own clock (`<ms>-<seq>`, `XADD *`); the event's
partition follows from its Kafka key as the producer chose it (murmur2, Kafka's default
partitioner). Both clocks are this machine's, so a write time is comparable with the
moment the bench SIGKILLed or SIGTERMed a bridge.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka.partitioner import DefaultPartitioner

from simulator.genesis_model import SimRecord
from simulator.verify import StreamEntry


@dataclass(frozen=True)
class Episode:
    """One bridge stopped (SIGKILL: a crash; SIGTERM: a rolling restart) and started again."""

    kind: str  # "crash" | "rolling"
    replica: int
    stopped_at: float  # wall clock, s
    restarted_at: float  # when the new process was spawned
    up_at: float | None  # its first log line: Python started, before any Kafka client
    partitions: tuple[int, ...]  # what the stopped bridge held
    others: tuple[int, ...]  # what the other bridge held


@dataclass(frozen=True)
class Outcome:
    episode: Episode
    first_after_restart_s: float | None  # first new event of its partitions, from the restart
    all_after_restart_s: float | None  # every one of its partitions delivering again
    paused_s: float | None  # longest silence of its partitions around the stop
    others_paused_s: float | None  # longest silence of the other bridge's partitions


def write_times(
    records: Iterable[SimRecord], streams: Mapping[str, Sequence[StreamEntry]], partitions: int
) -> dict[int, list[float]]:
    """Per partition, the sorted Redis write times (s) of the events delivered from it."""
    every = list(range(partitions))
    partition_of = {
        r.expect.event_id: DefaultPartitioner()(r.key, every, every)
        for r in records
        if r.expect.event_id
    }
    out: dict[int, list[float]] = defaultdict(list)
    for entries in streams.values():
        for e in entries:
            p = partition_of.get(e.event_id)
            if p is not None:
                out[p].append(int(e.stream_id.split("-", 1)[0]) / 1000)
    for times in out.values():
        times.sort()
    return dict(out)


def _first_after(times: Sequence[float], t: float) -> float | None:
    i = bisect.bisect_right(times, t)
    return times[i] if i < len(times) else None


def _longest_gap(times: Sequence[float], start: float, end: float) -> float | None:
    """The longest silence between writes that overlaps [start, end]: from the last write
    before `start` to the first after it, and so on; a silence still running at `end` counts
    up to `end` only (past it, it belongs to whatever happened next)."""
    lo = max(bisect.bisect_right(times, start) - 1, 0)
    hi = bisect.bisect_right(times, end)
    window = [*times[lo:hi], end]
    if len(window) < 2:
        return None
    return max(b - a for a, b in itertools.pairwise(window))


def outcome(
    episode: Episode,
    times: Mapping[int, Sequence[float]],
    *,
    tail_s: float,
    until: float | None = None,
) -> Outcome:
    """What the stop cost: `tail_s` after the restart bounds the window that is looked at,
    and so does `until` (the next stop, whose silences are its own)."""
    # From the restart: whatever the stopped process still wrote (a drain, a pipeline already
    # sent) is not the new one delivering.
    firsts = [_first_after(times.get(p, ()), episode.restarted_at) for p in episode.partitions]
    known = [f for f in firsts if f is not None]
    # Until `tail_s` past its recovery: a rebalance stops the other bridge only when the
    # restarted one joins, after its Python start.
    end = max(known, default=episode.restarted_at) + tail_s
    if until is not None:
        end = min(end, until)

    def gap(parts: Sequence[int]) -> float | None:
        gaps = [g for p in parts if (g := _longest_gap(times.get(p, ()), episode.stopped_at, end))]
        return max(gaps) if gaps else None

    return Outcome(
        episode,
        first_after_restart_s=min(known) - episode.restarted_at if known else None,
        all_after_restart_s=(
            max(known) - episode.restarted_at if known and len(known) == len(firsts) else None
        ),
        paused_s=gap(episode.partitions),
        others_paused_s=gap(episode.others),
    )


def steady_gap(times: Mapping[int, Sequence[float]], start: float, end: float) -> float | None:
    """The longest silence of any partition between two of its writes inside [start, end],
    while nothing was restarted: the noise floor (traffic is bursty, so a partition is
    sometimes quiet for a while by itself)."""
    gaps = []
    for ts in times.values():
        inside = ts[bisect.bisect_left(ts, start) : bisect.bisect_right(ts, end)]
        gaps += [b - a for a, b in itertools.pairwise(inside)]
    return max(gaps) if gaps else None
