"""`python -m simulator sweep`: latency produce → browser across rates, and where the time goes.

Each rate is one short load run (fresh bridge and gateway processes, a fresh topic, the same
Kafka and Redis); with several `--eventbridge-python` interpreters each rate runs once per
interpreter, interleaved, so two versions are measured side by side on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import orjson

from simulator.genesis_model import TrafficConfig
from simulator.hops import hops_ms
from simulator.kafka_warmup import warm_kafka
from simulator.load import LoadPlan, LoadRun
from simulator.services import Services, services
from simulator.sweep_report import RateResult, medians, text

DEFAULT_RATES = (2.0, 20.0, 200.0, 1000.0, 3000.0)


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
    load_before = os.getloadavg()[0]
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
        load_avg=(load_before, os.getloadavg()[0]),
        loop_lag_ms=run.loop_lag.quantiles(),
    )


def rates_of(text_value: str) -> list[float]:
    try:
        rates = [float(part) for part in text_value.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"rates must be numbers, comma-separated: {exc}") from exc
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers, comma-separated")
    return rates


def count_of(text_value: str) -> int:
    try:
        value = int(text_value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text_value!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def rounds_of(text_value: str) -> int:
    value = count_of(text_value)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run_sweep(args: argparse.Namespace) -> int:
    """The `sweep` command: exit status 1 when any run lost or duplicated an event.

    Runs go round by round (`--repeat`), each round every rate once per interpreter, so a
    burst of load from elsewhere on the machine hits one run of a rate, not all of them; the
    figures reported for a rate are then the medians over its rounds."""
    pythons = args.eventbridge_python or [sys.executable]
    results: list[RateResult] = []
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-sweep-"))
        )
        svc = stack.enter_context(services(workdir / "services"))
        if args.warmup:
            warmed = asyncio.run(
                warm_kafka(svc.kafka_bootstrap, records=args.warmup, partitions=args.partitions)
            )
            print(f"Kafka warmed up: {args.warmup} records in {warmed.seconds:.1f} s", flush=True)
        for round_ in range(args.repeat):
            for rate in args.rates:
                users = args.users or users_for(rate)
                for n, python in enumerate(pythons):
                    print(
                        f"round {round_ + 1}/{args.repeat}: rate {rate:g} ev/s, {users} users, "
                        f"{args.duration:g} s: {python}",
                        flush=True,
                    )
                    where = workdir / f"round-{round_ + 1}" / f"rate-{rate:g}-{n}"
                    where.mkdir(parents=True, exist_ok=True)
                    results.append(
                        run_rate(svc, where, rate=rate, users=users, python=python, args=args)
                    )
    summary = medians(results)
    if args.repeat > 1:
        print(text(results, title=": every run"))
        print()
        print(text(summary, title=f": median of {args.repeat} runs"))
    else:
        print(text(results))
    if args.json is not None:
        runs = [asdict(r) for r in results]
        args.json.write_bytes(
            orjson.dumps(
                {"runs": runs, "medians": [asdict(r) for r in summary]},
                option=orjson.OPT_INDENT_2,
            )
        )
    if args.plot is not None:
        from simulator.sweep_plot import plot_sweep  # noqa: PLC0415 - matplotlib loads slowly

        plot_sweep(args.plot, summary)
        print(f"plot: {args.plot}")
    return 1 if any(r.lost or r.duplicated for r in results) else 0


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    rates = ",".join(f"{r:g}" for r in DEFAULT_RATES)
    parser.add_argument(
        "--rates", type=rates_of, default=list(DEFAULT_RATES), help=f"ev/s (default {rates})"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of traffic per rate")
    parser.add_argument(
        "--repeat", type=rounds_of, default=1, help="rounds of every rate; medians are reported"
    )
    parser.add_argument(
        "--warmup",
        type=count_of,
        default=20_000,
        metavar="RECORDS",
        help="records through Kafka before the first run, so a cold broker is not measured "
        "(default 20000; 0: none)",
    )
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
