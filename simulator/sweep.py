"""`python -m simulator sweep`: latency produce → browser across rates, and where the time goes.

Each rate is one short load run (fresh bridge and gateway processes, a fresh topic, the same
Kafka and Redis); with several `--eventbridge-python` interpreters each rate runs once per
interpreter, interleaved, so two versions are measured side by side on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from simulator.genesis_model import TrafficConfig
from simulator.hops import HOPS, hops_ms
from simulator.load import LoadPlan, LoadRun
from simulator.services import Services, services

DEFAULT_RATES = (2.0, 20.0, 200.0, 1000.0, 3000.0)


@dataclass
class RateResult:
    """One rate's run with one interpreter: the browsers' latency and each hop's."""

    version: str
    rate: float
    users: int
    produced: int
    delivered: int
    lost: int
    duplicated: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    hops_ms: dict[str, dict[str, float] | None] = field(default_factory=dict)


def users_for(rate: float) -> int:
    """About five events per second per user, between 2 and 200 users."""
    return max(2, min(200, round(rate / 5)))


def run_rate(
    svc: Services, workdir: Path, *, rate: float, users: int, python: str, args: argparse.Namespace
) -> RateResult:
    plan = LoadPlan(
        traffic=TrafficConfig(
            seed=args.seed,
            users=users,
            rate=rate,
            duration_s=args.duration,
            bad_ratio=args.bad_ratio,
        ),
        restart_at_s=None,
        policy="pause",
        partitions=args.partitions,
        cool_down_s=5.0,
        settle_s=args.settle,
        png=None,
        json=None,
        workdir=workdir,
        python=python,
    )
    run = LoadRun(plan, svc, workdir)
    report = run.run()
    received = {f.user: f.received for f in run.followers}
    return RateResult(
        version=python,
        rate=rate,
        users=users,
        produced=report.produced,
        delivered=report.delivered,
        lost=report.lost,
        duplicated=report.duplicated,
        latency_ms=report.latency_ms,
        hops_ms=hops_ms(run.metrics, received, sent=run.sent, acked=run.acked),
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def text(results: list[RateResult]) -> str:
    lines = ["EventBridge latency sweep: produce → browser (ms)", ""]
    head = f"{'rate ev/s':>10} {'users':>6} {'delivered':>10} {'lost':>5}"
    lines.append(head + "".join(f"{q:>8}" for q in ("p50", "p95", "p99", "max")) + "   version")
    for r in results:
        lat = r.latency_ms
        lines.append(
            f"{r.rate:>10g} {r.users:>6} {r.delivered:>10} {r.lost:>5}"
            + "".join(f"{_ms(lat.get(k)):>8}" for k in ("p50", "p95", "p99", "max"))
            + f"   {r.version}"
        )
    lines += [
        "",
        "Where the time goes, per hop: p50 / p99 (ms); n/a where no process measures it",
        "",
    ]
    names = [hop.name for hop in HOPS]
    lines.append(f"{'rate ev/s':>10}  " + "  ".join(f"{n:>22}" for n in names) + "   version")
    for r in results:
        cells = []
        for name in names:
            q = r.hops_ms.get(name)
            cells.append("n/a" if q is None else f"{_ms(q['p50'])} / {_ms(q['p99'])}")
        lines.append(f"{r.rate:>10g}  " + "  ".join(f"{c:>22}" for c in cells) + f"   {r.version}")
    return "\n".join(lines)


def rates_of(text_value: str) -> list[float]:
    try:
        rates = [float(part) for part in text_value.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"rates must be numbers, comma-separated: {exc}") from exc
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers, comma-separated")
    return rates


def run_sweep(args: argparse.Namespace) -> int:
    """The `sweep` command: exit status 1 when any run lost or duplicated an event."""
    pythons = args.eventbridge_python or [sys.executable]
    results: list[RateResult] = []
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-sweep-"))
        )
        svc = stack.enter_context(services(workdir / "services"))
        for rate in args.rates:
            users = args.users or users_for(rate)
            for n, python in enumerate(pythons):
                print(
                    f"rate {rate:g} ev/s, {users} users, {args.duration:g} s: {python}", flush=True
                )
                where = workdir / f"rate-{rate:g}-{n}"
                where.mkdir(parents=True, exist_ok=True)
                results.append(
                    run_rate(svc, where, rate=rate, users=users, python=python, args=args)
                )
    print(text(results))
    if args.json is not None:
        args.json.write_bytes(
            orjson.dumps([asdict(r) for r in results], option=orjson.OPT_INDENT_2)
        )
    if args.plot is not None:
        from simulator.sweep_plot import plot_sweep  # noqa: PLC0415 - matplotlib loads slowly

        plot_sweep(args.plot, results)
        print(f"plot: {args.plot}")
    return 1 if any(r.lost or r.duplicated for r in results) else 0


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    rates = ",".join(f"{r:g}" for r in DEFAULT_RATES)
    parser.add_argument(
        "--rates", type=rates_of, default=list(DEFAULT_RATES), help=f"ev/s (default {rates})"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of traffic per rate")
    parser.add_argument("--users", type=int, default=None, help="default: rate / 5, from 2 to 200")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bad-ratio", type=float, default=0.0, help="share of bad records")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--settle", type=float, default=30.0, help="max wait after traffic (s)")
    parser.add_argument("--plot", type=Path, default=Path("docs/latency-sweep.png"))
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    parser.add_argument(
        "--eventbridge-python",
        action="append",
        default=None,
        metavar="PYTHON",
        help="run the bridge and gateway with this interpreter (another checkout's "
        ".venv/bin/python); give it twice to measure two versions, interleaved",
    )
