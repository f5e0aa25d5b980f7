"""The load run's PNG: throughput and end-to-end latency per second of the run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI machines or servers

import matplotlib.pyplot as plt

from simulator.load_report import LoadReport, percentile
from simulator.load_sse import Receipt


def plot_run(
    path: Path,
    report: LoadReport,
    sent_at: Mapping[str, float],
    received: Mapping[str, Sequence[Receipt]],
    *,
    marks: Sequence[tuple[float, str]] = (),
    spans: Sequence[tuple[float, float]] = (),
) -> None:
    """Two panels over the run's seconds: produced and delivered per second; latency p50/p99.
    `marks` are dashed lines with a label (a fault, a restart: wall-clock times); `spans`
    shade (start, end) windows (a fault until its deliveries resumed)."""
    if not sent_at:
        return
    t0 = min(sent_at.values())
    receipts = [r for rs in received.values() for r in rs if r.event_id in sent_at]
    end = max([*sent_at.values(), *(r.at for r in receipts)]) - t0
    seconds = range(math.ceil(end) + 1)
    produced = [0] * len(seconds)
    for at in sent_at.values():
        produced[int(at - t0)] += 1
    delivered = [0] * len(seconds)
    buckets: list[list[float]] = [[] for _ in seconds]
    for r in receipts:
        i = int(r.at - t0)
        delivered[i] += 1
        buckets[i].append((r.at - sent_at[r.event_id]) * 1000)
    p50 = [percentile(b, 50) for b in buckets]
    p99 = [percentile(b, 99) for b in buckets]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    top.plot(seconds, produced, label="produced (all records) / s", color="tab:gray", linewidth=1)
    top.plot(seconds, delivered, label="delivered over SSE / s", color="tab:blue", linewidth=1.5)
    top.set_ylabel("events per second")
    top.legend(loc="lower right")
    top.grid(alpha=0.3)
    bottom.plot(seconds, p50, label="p50", color="tab:green", linewidth=1.5)
    bottom.plot(seconds, p99, label="p99", color="tab:red", linewidth=1)
    bottom.set_yscale("log")
    bottom.set_ylabel("produce → SSE latency (ms)")
    bottom.set_xlabel("seconds since the first event was produced")
    bottom.legend(loc="upper right")
    bottom.grid(alpha=0.3, which="both")
    peak = max([*produced, *delivered])
    for start, end in spans:
        for ax in (top, bottom):
            ax.axvspan(start - t0, end - t0, color="tab:red", alpha=0.12, linewidth=0)
    for i, (at, label) in enumerate(marks):
        color = "tab:red" if "SIGKILL" in label else "tab:orange"
        for ax in (top, bottom):
            ax.axvline(at - t0, color=color, linestyle="--", linewidth=1)
        height = peak * (0.9 - 0.12 * (i % 6))  # stagger the labels of marks close together
        top.annotate(f" {label}", (at - t0, height), color=color, fontsize=7)
    s, lat = report.settings, report.latency_ms
    shape = (
        f"{s.get('topology')}, {s.get('bridges')} bridges, {s.get('gateways')} gateways, "
        if s.get("bridges", 1) > 1 or s.get("gateways", 1) > 1
        else ""
    )
    fig.suptitle(
        f"EventBridge load run: {shape}{s.get('rate')} ev/s target, {s.get('users')} users, "
        f"{s.get('duration_s')} s\nlost {report.lost}, duplicated {report.duplicated}, "
        f"out of order {report.out_of_order}, misrouted {report.misrouted}; "
        f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
