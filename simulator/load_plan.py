"""What a load run does (`LoadPlan`) and the `load` command's arguments."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from simulator.genesis_model import TrafficConfig
from simulator.load_faults import Fault, parse_faults, spread
from simulator.services import TOPOLOGIES
from simulator.traffic import traffic_config


@dataclass(frozen=True)
class LoadPlan:
    """A load run: the traffic, the outage or fault schedule if any, the processes, and where
    the report goes."""

    traffic: TrafficConfig
    restart_at_s: float | None
    policy: str
    partitions: int
    cool_down_s: float
    settle_s: float
    png: Path | None
    json: Path | None
    workdir: Path | None
    python: str | None = None  # the interpreter of the EventBridge processes (another checkout's)
    topology: str | None = None  # None: EVENTBRIDGE_TOPOLOGY, else single
    bridges: int = 1
    gateways: int = 1  # more than one: behind a local nginx
    faults: tuple[Fault, ...] = ()
    down_s: float = 3.0  # how long each killed process stays dead


def plan_from(args: argparse.Namespace, *, topology: str) -> LoadPlan:
    """The plan of `python -m simulator load` for `topology` (the one the services have):
    a cluster gets 2 bridges, 2 gateways and one fault of each kind unless told otherwise."""
    cluster = topology == "cluster"
    faults = args.faults
    if faults is None:
        faults = spread(args.duration) if cluster else ()
    return LoadPlan(
        traffic=traffic_config(args, args.duration),
        restart_at_s=args.restart_redis_at,
        policy=args.policy,
        partitions=args.partitions,
        cool_down_s=args.cool_down,
        settle_s=args.settle,
        png=args.report,
        json=args.json,
        workdir=args.workdir,
        python=args.eventbridge_python,
        topology=topology,
        bridges=args.bridges or (2 if cluster else 1),
        gateways=args.gateways or (2 if cluster else 1),
        faults=faults,
        down_s=args.fault_down,
    )


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--restart-redis-at", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--policy", choices=("pause", "drop"), default="pause")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--cool-down", type=float, default=5.0, help="breaker cool-down (s)")
    parser.add_argument("--settle", type=float, default=120.0, help="max wait after traffic (s)")
    parser.add_argument("--report", type=Path, default=Path("docs/load-report.png"))
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    parser.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default=None,
        help="local Kafka and Redis to start (default: $EVENTBRIDGE_TOPOLOGY, else single); "
        "cluster also means 2 bridges, 2 gateways behind nginx and a fault schedule",
    )
    parser.add_argument("--bridges", type=int, default=None, help="bridge processes")
    parser.add_argument(
        "--gateways", type=int, default=None, help="gateway processes (2+: behind nginx)"
    )
    parser.add_argument(
        "--faults",
        type=parse_faults,
        default=None,
        metavar="KIND@S,...",
        help="SIGKILL schedule, KIND in kafka, redis, bridge, gateway, S seconds into the "
        "traffic, e.g. kafka@20,bridge@40; 'none' for no faults (default on a cluster: one "
        "of each, evenly spread)",
    )
    parser.add_argument(
        "--fault-down", type=float, default=3.0, help="seconds a killed process stays dead"
    )
    add_python_argument(parser)


def add_python_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--eventbridge-python",
        default=None,
        metavar="PYTHON",
        help="run the bridge and gateway with this interpreter (e.g. another checkout's "
        ".venv/bin/python), to measure another version in the same run",
    )
