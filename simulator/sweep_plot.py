"""The sweep's PNG: latency produce → browser against rate, and the hops' medians."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI machines or servers

import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from simulator.sweep import RateResult

_STYLES = ("-", "--", ":", "-.")
# Issue 16's targets at every rate from 2 to 1,000 ev/s on an idle machine.
TARGETS = (("p50", 4.0, "tab:green"), ("p99", 15.0, "tab:red"))


def plot_sweep(path: Path, results: Sequence[RateResult]) -> None:
    """Left: p50/p95/p99 produce → browser per rate, one line style per version. Right: each
    measured hop's p50 per rate (the hops that no process measured are left out)."""
    versions = list(dict.fromkeys(r.version for r in results))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    for n, version in enumerate(versions):
        mine = sorted((r for r in results if r.version == version), key=lambda r: r.rate)
        rates = [r.rate for r in mine]
        style = _STYLES[n % len(_STYLES)]
        label = (
            f" ({Path(version).parent.parent.parent.name or version})" if len(versions) > 1 else ""
        )
        for q, color in (("p50", "tab:green"), ("p95", "tab:orange"), ("p99", "tab:red")):
            values = [r.latency_ms.get(q, math.nan) for r in mine]
            left.plot(rates, values, style, marker="o", color=color, label=f"{q}{label}")
        hop_names = list(mine[0].hops_ms) if mine else []
        for h, name in enumerate(hop_names):
            values = [(r.hops_ms.get(name) or {}).get("p50", math.nan) for r in mine]
            if all(math.isnan(v) for v in values):
                continue
            right.plot(rates, values, style, marker="o", color=f"C{h}", label=f"{name}{label}")
    for q, ms, color in TARGETS:
        left.axhline(ms, color=color, linewidth=0.8, alpha=0.5, label=f"target {q} ≤ {ms:g} ms")
    for ax, title in ((left, "produce → browser"), (right, "per hop, p50")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rate (events per second)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    loads = [v for r in results for v in r.load_avg if not math.isnan(v)]
    runs = max((r.runs for r in results), default=1)
    note = f", load average {min(loads):.1f}-{max(loads):.1f}" if loads else ""
    median = f"medians of {runs} runs per point" if runs > 1 else "one run per point"
    fig.suptitle(f"EventBridge: latency against rate ({median}{note})", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
