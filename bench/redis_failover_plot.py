"""The failover run's PNG: Redis writes per 250 ms through each fault, one panel per setting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI machines or servers

import matplotlib.pyplot as plt

BUCKET_S = 0.25


def plot_runs(path: Path, outcomes: Sequence[Any], *, rate: float) -> None:
    """A grid: a row per fault, a column per `min_replicas`; each panel the events written to
    Redis per second (in 250 ms buckets) over the run, the produced rate, and the fault's
    moments as vertical lines; its title says what was lost."""
    if not outcomes:
        return
    faults = list(dict.fromkeys(o.fault for o in outcomes))
    settings = sorted({o.min_replicas for o in outcomes}, reverse=True)
    fig, axes = plt.subplots(
        len(faults),
        len(settings),
        figsize=(6 * len(settings), 3.2 * len(faults)),
        squeeze=False,
        sharex=True,
    )
    colors = ("tab:red", "tab:orange", "tab:purple", "tab:green", "tab:gray")
    for row, fault in enumerate(faults):
        for col, setting in enumerate(settings):
            ax = axes[row][col]
            found = [o for o in outcomes if o.fault == fault and o.min_replicas == setting]
            if not found:
                ax.set_visible(False)
                continue
            o = found[0]
            end = max([*o.writes, *(at for at, _ in o.marks), 1.0])
            buckets = [0] * (math.ceil(end / BUCKET_S) + 1)
            for w in o.writes:
                if w >= 0:
                    buckets[int(w / BUCKET_S)] += 1
            xs = [i * BUCKET_S for i in range(len(buckets))]
            ax.plot(xs, [b / BUCKET_S for b in buckets], color="tab:blue", linewidth=1.2)
            ax.axhline(rate, color="tab:gray", linewidth=0.8, linestyle=":")
            for k, (at, what) in enumerate(o.marks):
                ax.axvline(at, color=colors[k % len(colors)], linewidth=1, label=what)
            ax.set_title(
                f"{fault}, min_replicas={setting}: lost {o.lost}, duplicated {o.duplicated},"
                f" out of order {o.out_of_order}",
                fontsize=9,
            )
            ax.set_ylabel("written / s")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper right", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("seconds since the first event was produced")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
