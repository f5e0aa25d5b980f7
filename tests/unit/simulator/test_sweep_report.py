"""The sweep's report: repeated runs of a rate become one row of medians, per version."""

from __future__ import annotations

import math

import pytest

from simulator.sweep_report import RateResult, medians, text

pytestmark = pytest.mark.unit

ACK = "produce → Kafka ack"
FETCHED = "produce → fetched"


def run(version: str, rate: float, p50: float, fetched: float | None, load: float) -> RateResult:
    return RateResult(
        version=version,
        rate=rate,
        users=2,
        produced=10,
        delivered=9,
        lost=0,
        duplicated=0,
        latency_ms={"p50": p50, "p95": p50 * 2, "p99": p50 * 3, "max": p50 * 4},
        hops_ms={
            ACK: None,
            FETCHED: None if fetched is None else {"p50": fetched, "p95": fetched, "p99": fetched},
        },
        load_avg=(load, load + 1),
        loop_lag_ms={"p50": 0.5, "p95": 1.0, "p99": 2.0},
    )


def test_repeated_runs_of_a_rate_become_their_medians_per_version() -> None:
    runs = [
        run("a", 2, p50=10.0, fetched=4.0, load=1.0),
        run("b", 2, p50=99.0, fetched=None, load=9.0),
        run("a", 2, p50=30.0, fetched=None, load=3.0),
        run("a", 2, p50=20.0, fetched=8.0, load=2.0),
        run("a", 20, p50=5.0, fetched=1.0, load=1.0),
    ]
    summary = medians(runs)
    assert [(r.version, r.rate, r.runs) for r in summary] == [
        ("a", 2, 3),
        ("b", 2, 1),
        ("a", 20, 1),
    ]
    a2 = summary[0]
    assert a2.latency_ms == {"p50": 20.0, "p95": 40.0, "p99": 60.0, "max": 80.0}
    assert a2.hops_ms[FETCHED] == {"p50": 6.0, "p95": 6.0, "p99": 6.0}  # of the runs measuring it
    assert a2.hops_ms[ACK] is None  # measured by no run: still n/a
    assert a2.load_avg == (2.0, 3.0)
    assert (a2.produced, a2.delivered) == (30, 27)
    assert summary[1].latency_ms["p50"] == 99.0


def test_the_text_names_its_runs_the_machines_load_and_what_was_not_measured() -> None:
    summary = medians([run("a", 2, p50=10.0, fetched=None, load=1.5)] * 2)
    out = text(summary, title=": median of 2 runs")
    assert "median of 2 runs" in out
    row = next(
        line for line in out.splitlines() if line.strip().startswith("2 ") and "10.0" in line
    )
    assert "1.5→2.5" in row
    assert "0.5 / 2.0" in row  # the runner's own loop lag
    hops = next(line for line in out.splitlines()[4:] if line.strip().startswith("2 "))
    assert "n/a" in hops


def test_a_run_without_figures_stays_without_them() -> None:
    empty = RateResult(version="a", rate=2, users=2, produced=0, delivered=0, lost=0, duplicated=0)
    (row,) = medians([empty])
    assert row.latency_ms == {}
    assert row.loop_lag_ms is None
    assert math.isnan(row.load_avg[0])
