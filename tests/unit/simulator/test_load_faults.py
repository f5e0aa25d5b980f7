"""The load run's fault schedule and how long each fault stopped the deliveries it held."""

from __future__ import annotations

import argparse
from dataclasses import asdict

import pytest

from simulator.load_faults import Fault, FaultRecord, parse_faults, spread, traffic_end
from simulator.load_recovery import recoveries
from simulator.load_report import LoadReport, fault_line
from simulator.load_sse import Receipt

pytestmark = pytest.mark.unit


def test_a_schedule_is_parsed_in_time_order_and_none_means_no_faults() -> None:
    assert parse_faults("redis@40, kafka@20") == (Fault("kafka", 20.0), Fault("redis", 40.0))
    assert parse_faults("none") == ()
    for bad in ("disk@3", "kafka", "kafka@soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_faults(bad)


def test_the_default_schedule_spreads_one_fault_of_each_kind_inside_the_traffic() -> None:
    faults = spread(100.0)
    assert [f.kind for f in faults] == ["kafka", "redis", "bridge", "gateway"]
    assert [f.at_s for f in faults] == [20.0, 40.0, 60.0, 80.0]


def _r(event: str, at: float) -> Receipt:
    return Receipt(event, "s", "0-1", at)


def test_recovery_counts_only_what_the_fault_held_and_events_produced_after_it() -> None:
    # Partition 0 held by the killed bridge (fault at t=10), partition 1 by the other one.
    partition_of = {"a": 0, "b": 0, "c": 0, "x": 1, "y": 1}
    sent_at = {"a": 9.5, "b": 10.5, "c": 11.0, "x": 10.2, "y": 10.4}
    received = {
        "u1": [_r("a", 10.2), _r("x", 10.25), _r("y", 10.45), _r("b", 14.0), _r("c", 14.1)],
    }
    fault = FaultRecord("bridge", "bridge 0", 10.0, restarted_at=12.0, partitions=frozenset({0}))
    [rec] = recoveries([fault], received, sent_at, partition_of, t0=0.0)
    # "a" was produced before the kill (in flight): it does not count as resumed.
    assert rec.resumed_s == pytest.approx(4.0)
    assert rec.silent_s == pytest.approx(3.8)  # from "a" at 10.2 to "b" at 14.0
    assert rec.down_s == pytest.approx(2.0)
    assert rec.scope == "partitions 0"


def test_a_users_scope_and_a_fault_after_which_nothing_came_back() -> None:
    received = {"u1": [_r("a", 5.0)], "u2": [_r("b", 6.0)]}
    sent_at = {"a": 4.0, "b": 5.9}
    fault = FaultRecord("gateway", "gateway 0", 5.5, users=frozenset({"u1"}))
    [rec] = recoveries([fault], received, sent_at, {}, t0=0.0)
    assert rec.resumed_s is None  # u2's event is not in scope
    assert rec.silent_s is None
    assert rec.scope == "1 users"
    assert "resumed after never" in fault_line(asdict(rec))


def test_traffic_outlasts_a_schedule_that_ran_late_by_the_gap_it_planned_after_the_last() -> None:
    faults = (Fault("kafka", 27.0), Fault("redis", 36.0))  # planned: 54 s of traffic
    on_time = [
        FaultRecord("kafka", "broker 2", 1027.0, back_at=1034.0),
        FaultRecord("redis", "master", 1036.0, back_at=1040.0),
    ]
    assert traffic_end(1000.0, 54.0, faults, on_time) == 1054.0
    # The CI run that failed: the broker's ISR took until 57.4 s, so the Redis fault began
    # after the traffic had ended. Now the traffic runs the planned 18 s past its real start.
    late = [
        FaultRecord("kafka", "broker 2", 1027.0, back_at=1057.4),
        FaultRecord("redis", "master", 1057.4, back_at=1063.0),
    ]
    assert traffic_end(1000.0, 54.0, faults, late) == pytest.approx(1075.4)
    # A fault that could not be injected has no record: the last one that was counts.
    assert traffic_end(1000.0, 54.0, faults, []) == 1054.0
    assert traffic_end(1000.0, 54.0, faults, [FaultRecord("kafka", "b", 1050.0)]) == 1068.0
    assert traffic_end(1000.0, 54.0, (), late) == 1054.0


def test_the_report_says_when_the_traffic_ran_longer_than_planned() -> None:
    planned = LoadReport(settings={"duration_s": 54.0, "traffic_s": 54.2, "rate": 100.0})
    assert "run          54.0 s at 100.0 ev/s" in planned.text()
    late = LoadReport(settings={"duration_s": 54.0, "traffic_s": 81.04, "rate": 100.0})
    assert "run          81.0 (planned 54) s at 100.0 ev/s" in late.text()
