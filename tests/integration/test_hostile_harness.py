"""Hostile records among Genesis traffic through a real bridge process (a bounded seeded run)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.hostile import KINDS
from simulator.hostile_run import run_hostile
from simulator.services import Services

pytestmark = pytest.mark.timeout(240)


def test_no_hostile_record_kills_stalls_or_misleads_the_bridge(
    real_services: Services, tmp_path: Path
) -> None:
    report = asyncio.run(
        run_hostile(real_services, tmp_path, records=360, seed=3, share=0.4, timeout_s=120)
    )
    print("\n".join(report.lines()))
    assert set(KINDS) <= set(report.tried_by_kind), "every hostile kind is tried"
    assert report.restarts == 0
    assert report.problems == []
    v = report.valid
    assert (v.lost, v.duplicated, v.out_of_order, v.misrouted, v.unexpected) == (0, 0, 0, 0, 0)
    assert v.delivered == v.expected_delivered
    assert report.dead_lettered_by_reason["invalid_utf8"] >= 2
    at_limit = sum(n for k, n in report.tried_by_kind.items() if k.startswith("at_limit"))
    cut = at_limit + report.tried_by_kind["invalid_utf8_header_name"]
    assert report.truncated_letters == cut  # at the size limit, or header names escaped
