"""The load run's report: what browsers received against what each record was meant to become."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.genesis_model import SimRecord
from simulator.load_sse import Receipt
from simulator.verify import Verification


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadReport:
    """The figures of SPEC §11, measured at the browsers (SSE), cross-checked in Redis."""

    produced: int = 0
    expected_delivered: int = 0
    delivered: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    expected_dead_letters: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    misrouted: int = 0
    produce_rate: float = 0.0
    throughput: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    reconnects: int = 0
    resets: int = 0
    redis_check: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)  # load_recovery.Recovery each
    cpu_us_per_event: dict[str, float] = field(default_factory=dict)  # by role, per produced
    stream_bytes_per_entry: float | None = None  # Redis memory of a user's stream per entry

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        s, lat = self.settings, self.latency_ms
        lines = [
            "EventBridge load report",
            f"  run          {_ran(s)} s at {s.get('rate')} ev/s, "
            f"{s.get('users')} users, bad ratio {s.get('bad_ratio')}, seed {s.get('seed')}, "
            f"policy {s.get('policy')}"
            + (f", redis restarted at {s['restart_at_s']} s" if s.get("restart_at_s") else ""),
            f"  produced     {self.produced} ({self.produce_rate:.1f}/s)",
            f"  delivered    {self.delivered} of {self.expected_delivered} expected (via SSE)",
            f"  ignored      {self.ignored}",
            f"  dead-letter  {self.dead_lettered} of {self.expected_dead_letters} expected",
            f"  lost         {self.lost}",
            f"  duplicated   {self.duplicated}",
            f"  out of order {self.out_of_order}",
            f"  misrouted    {self.misrouted}",
            f"  throughput   {self.throughput:.1f} delivered/s",
            "  latency      produce → SSE receipt: "
            f"p50 {lat.get('p50', math.nan):.1f} ms, p95 {lat.get('p95', math.nan):.1f} ms, "
            f"p99 {lat.get('p99', math.nan):.1f} ms, max {lat.get('max', math.nan):.1f} ms",
            f"  browsers     {self.reconnects} reconnects, {self.resets} resets",
            "  redis check  " + ", ".join(f"{k} {v}" for k, v in self.redis_check.items()),
        ]
        if s.get("bridges", 1) > 1 or s.get("gateways", 1) > 1:
            lines.insert(
                2,
                f"  topology     {s.get('topology')}: {s.get('bridges')} bridges, "
                f"{s.get('gateways')} gateways" + (" behind nginx" if s.get("balanced") else ""),
            )
        if self.cpu_us_per_event:
            lines.append(
                "  cpu          µs per produced record: "
                + ", ".join(f"{k} {v:.0f}" for k, v in self.cpu_us_per_event.items())
            )
        if self.stream_bytes_per_entry:
            lines.append(f"  redis memory {self.stream_bytes_per_entry:.0f} bytes per stream entry")
        lines.extend(fault_line(f) for f in self.faults)
        return "\n".join(lines)


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def fault_line(f: dict[str, Any]) -> str:
    """One fault of the schedule: what, when, what it held, how long deliveries stopped."""
    notes = "".join(f", {k} {v:.2f}" for k, v in f.get("notes", {}).items() if k.endswith("_s"))
    return (
        f"  fault        {f['kind']} ({f['target']}) at {f['at_s']:.1f} s, down "
        f"{_s(f.get('down_s'))}, holding {f['scope']}: deliveries resumed after "
        f"{_s(f.get('resumed_s'))} (longest silence {_s(f.get('silent_s'))}{notes})"
    )


def _expected(records: Sequence[SimRecord]) -> tuple[dict[str, str], dict[str, list[str]]]:
    owner: dict[str, str] = {}
    by_session: dict[str, list[str]] = {}
    for r in records:
        e = r.expect
        if e.outcome == "delivered" and e.event_id and e.user_id:
            owner[e.event_id] = e.user_id
            by_session.setdefault(e.session_id or "", []).append(e.event_id)
    return owner, by_session


def build_report(
    records: Sequence[SimRecord],
    sent_at: Mapping[str, float],
    received: Mapping[str, Sequence[Receipt]],
    redis: Verification,
    *,
    ignored: int,
    reconnects: int,
    resets: int,
    settings: dict[str, Any],
) -> LoadReport:
    """Count, per user's browser, what arrived against what each record was meant to become."""
    owner, by_session = _expected(records)
    report = LoadReport(
        produced=len(records),
        expected_delivered=len(owner),
        ignored=ignored,
        dead_lettered=redis.dead_lettered,
        expected_dead_letters=redis.expected_invalid,
        reconnects=reconnects,
        resets=resets,
        settings=settings,
    )
    position: dict[str, int] = {}
    seen: Counter[str] = Counter()
    latencies: list[float] = []
    for user, receipts in received.items():
        for index, receipt in enumerate(receipts):
            seen[receipt.event_id] += 1
            if owner.get(receipt.event_id) != user:
                report.misrouted += 1
                continue
            if seen[receipt.event_id] == 1:
                position[receipt.event_id] = index
                if receipt.event_id in sent_at:
                    latencies.append(receipt.at - sent_at[receipt.event_id])
    report.duplicated = sum(n - 1 for n in seen.values() if n > 1)
    report.delivered = len(position)
    report.lost = len(owner) - len(position)
    for event_ids in by_session.values():
        last = -1
        for eid in event_ids:
            if eid in position:
                report.out_of_order += position[eid] < last
                last = max(last, position[eid])
    if sent_at:
        first, last_sent = min(sent_at.values()), max(sent_at.values())
        report.produce_rate = len(records) / max(last_sent - first, 1e-9)
        arrivals = [r.at for rs in received.values() for r in rs]
        if arrivals:
            report.throughput = report.delivered / max(max(arrivals) - first, 1e-9)
    ms = [x * 1000 for x in latencies]
    report.latency_ms = {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else math.nan,
    }
    report.redis_check = {
        "delivered": redis.delivered,
        "lost": redis.lost,
        "duplicated": redis.duplicated,
        "out_of_order": redis.out_of_order,
        "misrouted": redis.misrouted,
        "dlq_missing": redis.dlq_missing,
    }
    return report


def _ran(settings: dict[str, Any]) -> str:
    """The planned duration, and how long the traffic really ran when faults made it longer."""
    planned, ran = settings.get("duration_s"), settings.get("traffic_s")
    if isinstance(planned, int | float) and isinstance(ran, int | float) and ran > planned + 1:
        return f"{ran:.1f} (planned {planned:g})"
    return f"{planned}"
