"""The soaks' reports: counts, failures by cause or by test, time per cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.soak import Cycle, summary
from simulator.soak_suite import Run, read_junit
from simulator.soak_suite import summary as suite_summary

pytestmark = pytest.mark.unit


def test_the_env_soak_summary_counts_cycles_and_groups_failures_by_cause() -> None:
    cycles = [
        Cycle(n=1, signal="SIGTERM", start_s=4.0, stop_s=1.0, total_s=5.0),
        Cycle(n=2, signal="SIGINT", cause="left running: java", start_s=6.0, total_s=9.0),
        Cycle(n=3, signal="SIGINT@start", start_s=1.5, stop_s=0.5, total_s=2.0),
        Cycle(n=4, signal="SIGTERM", cause="left running: java", detail="pid 7", total_s=8.0),
    ]
    text = summary(cycles, Path("/tmp/soak"))
    assert "4 cycles (1 stopped while starting), 2 passed, 2 failed" in text
    assert "2 x left running: java  (cycles [2, 4])" in text
    assert "max 9.0s" in text
    assert "start mean 3.3s" in text  # full starts only: (4 + 6 + 0) / 3
    assert "/tmp/soak/cycle-0004" in text
    assert "pid 7" in text


def test_a_clean_env_soak_says_so() -> None:
    text = summary([Cycle(n=1, signal="SIGTERM", total_s=3.0)], Path("/tmp/soak"))
    assert "1 cycles (0 stopped while starting), 1 passed, 0 failed" in text
    assert "failures by cause: none" in text


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
  <testcase classname="tests.integration.test_a" name="test_ok" time="1.0"/>
  <testcase classname="tests.integration.test_a" name="test_bad" time="1.0">
    <failure message="assert 1 == 2">...</failure></testcase>
  <testcase classname="tests.e2e.test_b" name="test_broken" time="1.0">
    <error message="fixture failed">...</error></testcase>
  <testcase classname="tests.unit.test_c" name="test_skip" time="0.0">
    <skipped message="no docker"/></testcase>
</testsuite></testsuites>
"""


def test_the_suite_soak_reads_failed_tests_from_junit_and_tallies_them(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    first = Run(n=1, code=1, seconds=100.0, workdir=tmp_path)
    read_junit(tmp_path / "junit.xml", first)
    assert (first.passed, first.skipped) == (1, 1)
    assert first.failed == [
        "tests.integration.test_a::test_bad",
        "tests.e2e.test_b::test_broken",
    ]
    second = Run(n=2, code=1, seconds=50.0, failed=["tests.integration.test_a::test_bad"])
    lint = Run(n=3, code=2, seconds=30.0)  # failed before pytest: no junit
    text = suite_summary([first, second, lint, Run(n=4, seconds=60.0, passed=9)])
    assert "4 runs, 1 passed, 3 failed; mean 60s per run" in text
    assert "2 x tests.integration.test_a::test_bad" in text
    assert "1 x tests.e2e.test_b::test_broken" in text
    assert "run 3: exit 2 before or outside pytest" in text
