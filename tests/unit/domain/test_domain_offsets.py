"""Commit offsets (SPEC §7): only past records that are all finished, per partition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import Partition
from domain.offsets import OffsetTracker

pytestmark = pytest.mark.unit

P0 = Partition("genesis.domain.events", 0)
P1 = Partition("genesis.domain.events", 1)


def _started(*offsets: int, partition: Partition = P0) -> OffsetTracker:
    tracker = OffsetTracker()
    for offset in offsets:
        tracker.start(partition, offset)
    return tracker


def test_nothing_is_committable_before_a_record_finishes() -> None:
    tracker = _started(10, 11)
    assert tracker.committable() == {}
    assert tracker.in_flight() == 2


def test_commit_offset_is_one_past_the_last_finished_record() -> None:
    tracker = _started(10, 11, 12)
    tracker.finish(P0, 10)
    tracker.finish(P0, 11)
    assert tracker.committable() == {P0: 12}


def test_an_unfinished_record_holds_back_later_finished_ones() -> None:
    tracker = _started(10, 11, 12)
    tracker.finish(P0, 11)
    tracker.finish(P0, 12)
    assert tracker.committable() == {}
    tracker.finish(P0, 10)
    assert tracker.committable() == {P0: 13}


def test_gaps_in_offsets_do_not_hold_back_commits() -> None:
    tracker = _started(10, 15, 40)  # compaction and transaction markers leave gaps
    for offset in (40, 15, 10):
        tracker.finish(P0, offset)
    assert tracker.committable() == {P0: 41}


def test_partitions_advance_independently() -> None:
    tracker = _started(5)
    tracker.start(P1, 7)
    tracker.finish(P1, 7)
    assert tracker.committable() == {P1: 8}


def test_only_partitions_past_their_last_commit_are_committable() -> None:
    tracker = _started(1, 2)
    tracker.start(P1, 1)
    tracker.finish(P0, 1)
    tracker.finish(P1, 1)
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() == {}
    tracker.finish(P0, 2)
    assert tracker.committable() == {P0: 3}


def test_finished_since_commit_counts_until_marked() -> None:
    tracker = _started(1, 2, 3)
    tracker.finish(P0, 2)
    tracker.finish(P0, 1)
    assert tracker.finished_since_commit() == 2
    tracker.mark_committed(tracker.committable())
    assert tracker.finished_since_commit() == 0
    assert tracker.in_flight() == 1


def test_forgetting_revoked_partitions_drops_their_state() -> None:
    tracker = _started(1, 2)
    tracker.start(P1, 9)
    tracker.finish(P0, 1)
    tracker.forget([P0])
    assert tracker.committable() == {}
    assert tracker.in_flight() == 1
    tracker.mark_committed({P0: 2})  # a late commit of a revoked partition is harmless
    tracker.start(P0, 1)  # reassigned: starts afresh, even from an earlier offset
    assert tracker.in_flight_for(P0) == 1


def test_finishing_a_record_not_in_flight_is_an_error() -> None:
    tracker = _started(1)
    with pytest.raises(ValueError, match="not in flight"):
        tracker.finish(P0, 2)
    tracker.finish(P0, 1)
    with pytest.raises(ValueError, match="not in flight"):
        tracker.finish(P0, 1)
    with pytest.raises(ValueError, match="not in flight"):
        tracker.finish(P1, 1)


def test_offsets_must_strictly_increase_per_partition() -> None:
    tracker = _started(5)
    with pytest.raises(ValueError, match="not above"):
        tracker.start(P0, 5)
    tracker.finish(P0, 5)
    with pytest.raises(ValueError, match="not above"):
        tracker.start(P0, 4)


RECORDS = st.lists(st.tuples(st.sampled_from([P0, P1]), st.integers(1, 5)), min_size=1, max_size=40)


@settings(deadline=None, max_examples=200)
@given(gaps=RECORDS, data=st.data())
def test_commits_never_pass_an_unfinished_record_and_finally_cover_all(
    gaps: list[tuple[Partition, int]], data: st.DataObject
) -> None:
    tracker, last = OffsetTracker(), {P0: -1, P1: -1}
    records: list[tuple[Partition, int]] = []
    for partition, gap in gaps:
        last[partition] += gap
        tracker.start(partition, last[partition])
        records.append((partition, last[partition]))
    order = data.draw(st.permutations(records))
    finished: set[tuple[Partition, int]] = set()
    for partition, offset in order:
        tracker.finish(partition, offset)
        finished.add((partition, offset))
        commits = tracker.committable()
        for p, commit in commits.items():
            assert all((p, o) in finished for q, o in records if q == p and o < commit)
        if data.draw(st.booleans()):
            tracker.mark_committed(commits)
    assert tracker.in_flight() == 0
    tracker.mark_committed(tracker.committable())
    final = {p: o + 1 for p, o in last.items() if o >= 0}
    assert all(tracker.committable().get(p) is None for p in final)
    fresh = OffsetTracker()
    for partition, offset in records:
        fresh.start(partition, offset)
    for partition, offset in order:
        fresh.finish(partition, offset)
    assert fresh.committable() == final
