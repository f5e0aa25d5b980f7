"""The sweep's figures: one result per run, the median of repeated runs, and the text table."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulator.hops import HOPS

QUANTILES = ("p50", "p95", "p99", "max")


@dataclass
class RateResult:
    """One rate's run with one interpreter: the browsers' latency and each hop's, and how busy
    the machine was (1-minute load average before and after the run; `runs` > 1: the median
    of that many runs, each figure on its own)."""

    version: str
    rate: float
    users: int
    produced: int
    delivered: int
    lost: int
    duplicated: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    hops_ms: dict[str, dict[str, float] | None] = field(default_factory=dict)
    load_avg: tuple[float, float] = (math.nan, math.nan)
    loop_lag_ms: dict[str, float] | None = None  # the runner's own event loop (loop_lag.py)
    runs: int = 1


def _median(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else math.nan


def _median_of(quantiles: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    measured = [q for q in quantiles if q is not None]
    if not measured:
        return None
    return {k: _median([q.get(k, math.nan) for q in measured]) for k in measured[0]}


def medians(results: Sequence[RateResult]) -> list[RateResult]:
    """Per (rate, version), in the order first run: each figure the median over its runs (so
    a run that a neighbour's burst of CPU slowed down does not decide it). Counts are summed."""
    groups: dict[tuple[float, str], list[RateResult]] = {}
    for r in results:
        groups.setdefault((r.rate, r.version), []).append(r)
    out = []
    for (rate, version), runs in groups.items():
        out.append(
            RateResult(
                version=version,
                rate=rate,
                users=runs[0].users,
                produced=sum(r.produced for r in runs),
                delivered=sum(r.delivered for r in runs),
                lost=sum(r.lost for r in runs),
                duplicated=sum(r.duplicated for r in runs),
                latency_ms=_median_of([r.latency_ms for r in runs]) or {},
                hops_ms={
                    name: _median_of([r.hops_ms.get(name) for r in runs])
                    for name in runs[0].hops_ms
                },
                load_avg=(
                    _median([r.load_avg[0] for r in runs]),
                    _median([r.load_avg[1] for r in runs]),
                ),
                loop_lag_ms=_median_of([r.loop_lag_ms for r in runs]),
                runs=len(runs),
            )
        )
    return out


def _ms(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def _pair(q: dict[str, float] | None) -> str:
    return "n/a" if q is None else f"{_ms(q.get('p50'))} / {_ms(q.get('p99'))}"


def _lag(q: dict[str, float] | None) -> str:
    """The runner's loop lag: p50 / p99 / max (a rare long stall shows only in the max)."""
    return "n/a" if q is None else f"{_pair(q)} / {_ms(q.get('max'))}"


def text(results: Sequence[RateResult], *, title: str = "") -> str:
    lines = [f"EventBridge latency sweep: produce → browser (ms){title}", ""]
    head = f"{'rate ev/s':>10} {'users':>6} {'runs':>5} {'delivered':>10} {'lost':>5}"
    lines.append(
        head
        + "".join(f"{q:>8}" for q in QUANTILES)
        + f"{'load 1m':>13}{'runner lag p50/p99/max':>26}   version"
    )
    for r in results:
        lat = r.latency_ms
        load = f"{r.load_avg[0]:.1f}→{r.load_avg[1]:.1f}"
        lines.append(
            f"{r.rate:>10g} {r.users:>6} {r.runs:>5} {r.delivered:>10} {r.lost:>5}"
            + "".join(f"{_ms(lat.get(k)):>8}" for k in QUANTILES)
            + f"{load:>13}{_lag(r.loop_lag_ms):>26}   {r.version}"
        )
    lines += [
        "",
        "Where the time goes, per hop: p50 / p99 (ms); n/a where no process measures it",
        "",
    ]
    names = [hop.name for hop in HOPS]
    lines.append(f"{'rate ev/s':>10}  " + "  ".join(f"{n:>22}" for n in names) + "   version")
    for r in results:
        cells = [_pair(r.hops_ms.get(name)) for name in names]
        lines.append(f"{r.rate:>10g}  " + "  ".join(f"{c:>22}" for c in cells) + f"   {r.version}")
    return "\n".join(lines)
