"""What bench.bridge_restart reports for a stop, from the Redis write times of each partition."""

from __future__ import annotations

import pytest

from bench.restart_gaps import Episode, outcome, steady_gap

pytestmark = pytest.mark.unit


def every(start: float, end: float, step: float = 0.1) -> list[float]:
    n = round((end - start) / step)
    return [round(start + i * step, 3) for i in range(n + 1)]


def episode(**kw: object) -> Episode:
    fields: dict[str, object] = {
        "kind": "crash",
        "replica": 0,
        "stopped_at": 10.0,
        "restarted_at": 10.5,
        "up_at": 11.5,
        "partitions": (0,),
        "others": (1,),
    }
    return Episode(**{**fields, **kw})  # type: ignore[arg-type]


def test_deliveries_resume_from_the_restart_not_from_what_the_stopped_bridge_still_wrote() -> None:
    # Partition 0: steady until the stop, a drain write after it, then the restarted bridge
    # from 12.5 on; partition 1 (the other bridge's) never pauses.
    times = {0: [*every(0, 9.9), 10.2, *every(12.5, 20)], 1: every(0, 20)}
    got = outcome(episode(), times, tail_s=4.0)
    assert got.first_after_restart_s == pytest.approx(2.0)
    assert got.all_after_restart_s == pytest.approx(2.0)
    assert got.paused_s == pytest.approx(12.5 - 10.2)
    assert got.others_paused_s == pytest.approx(0.1)


def test_a_partition_that_never_delivers_again_leaves_all_unknown() -> None:
    times = {0: [*every(0, 9.9), *every(12.5, 20)], 2: every(0, 9.9), 1: every(0, 20)}
    got = outcome(episode(partitions=(0, 2)), times, tail_s=4.0)
    assert got.first_after_restart_s == pytest.approx(2.0)
    assert got.all_after_restart_s is None


def test_a_silence_that_runs_into_the_next_stop_is_counted_up_to_it_only() -> None:
    # The other bridge's partition goes quiet at 14 and stays so past the next stop (15):
    # that silence is the next stop's, not this one's.
    times = {0: [*every(0, 9.9), *every(12.5, 30)], 1: [*every(0, 14), *every(25, 30)]}
    got = outcome(episode(), times, tail_s=4.0, until=15.0)
    assert got.others_paused_s == pytest.approx(1.0)
    assert outcome(episode(), times, tail_s=4.0).others_paused_s == pytest.approx(16.5 - 14)


def test_the_noise_floor_is_the_longest_gap_inside_the_quiet_window() -> None:
    times = {0: [1.0, 1.5, 3.0, 3.2], 1: [0.5, 2.9]}
    assert steady_gap(times, 1.0, 3.2) == pytest.approx(1.5)
    assert steady_gap({}, 0.0, 1.0) is None
