"""The simulator's command line: prefetch, env, traffic, load, sweep, demo and the soaks."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson

from simulator.hostile_run import add_hostile_arguments
from simulator.load import add_load_arguments
from simulator.local_kafka import KAFKA_VERSION, ensure_jars
from simulator.processes import Cancelled
from simulator.services import TOPOLOGIES, TOPOLOGY_ENV, Services, services
from simulator.soak import add_soak_commands
from simulator.sweep import add_sweep_arguments
from simulator.traffic import DEFAULT_TOPIC, add_traffic_arguments

log = logging.getLogger("simulator.env")


def _write_ready(path: Path, s: Services) -> None:
    """Where the services are, for scripts (the soak): written whole, then renamed into place."""
    pids = s.local_pids()
    ready = {
        "pid": os.getpid(),
        "topology": s.topology,
        "kafka_bootstrap": s.kafka_bootstrap,
        "redis_url": s.redis_url,
        "redis_cluster": s.redis_cluster,
        "kafka_source": s.kafka_source,
        "redis_source": s.redis_source,
        "kafka_pid": s.kafka.pid if s.kafka else None,
        "redis_pid": s.redis.pid if s.redis else None,
        "kafka_pids": pids["kafka"],
        "redis_pids": pids["redis"],
        "kafka_start_s": round(s.kafka_start_s, 2),
        "redis_start_s": round(s.redis_start_s, 2),
        "workdir": str(s.workdir) if s.workdir else None,
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(orjson.dumps(ready, option=orjson.OPT_INDENT_2))
    partial.replace(path)


def _env(args: argparse.Namespace) -> int:
    """Start (or find) Kafka and Redis, print where they are, keep them until SIGTERM/SIGINT.

    Either signal, even during startup, stops what was started (by PID) and exits 0; a
    signal during that cleanup changes nothing, so it always finishes."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with services(cancel=stop, topology=args.topology) as s:
            print(f"KAFKA_BOOTSTRAP_SERVERS={s.kafka_bootstrap}")
            print(f"REDIS_URL={s.redis_url}")
            print(f"EVENTBRIDGE__REDIS__CLUSTER={str(s.redis_cluster).lower()}", flush=True)
            if args.ready_file is not None:
                _write_ready(args.ready_file, s)
            stop.wait()
            log.info("stopping the local services")
    except Cancelled:
        log.info("stopped while starting")
    log.info("stopped")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prefetch", help=f"download Apache Kafka {KAFKA_VERSION} jars into the cache")
    env = sub.add_parser("env", help="start Kafka and Redis and print their addresses")
    env.add_argument(
        "--ready-file", type=Path, default=None, help="also write the addresses here as JSON"
    )
    env.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default=None,
        help=f"local processes to start (default: ${TOPOLOGY_ENV}, else single)",
    )

    traffic = sub.add_parser("traffic", help="produce seeded Genesis traffic to a Kafka topic")
    add_traffic_arguments(traffic, rate=50.0, users=20)
    traffic.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    traffic.add_argument("--topic", default=DEFAULT_TOPIC)
    traffic.add_argument("--partitions", type=int, default=6, help="if the topic is created")
    traffic.add_argument(
        "--bootstrap",
        default=None,
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, else 127.0.0.1:9092)",
    )

    load = sub.add_parser("load", help="a load run against real processes, with a report")
    add_traffic_arguments(load, rate=300.0, users=50)
    add_load_arguments(load)

    sweep = sub.add_parser(
        "sweep", help="latency produce → browser at several rates, per hop, with a plot"
    )
    add_sweep_arguments(sweep)

    hostile = sub.add_parser(
        "hostile", help="hostile records among Genesis traffic through a real bridge, verified"
    )
    add_hostile_arguments(hostile)

    demo = sub.add_parser("demo", help="everything running locally, and the demo page URL")
    add_traffic_arguments(demo, rate=2.0, users=5)
    demo.add_argument("--port", type=int, default=8080, help="the gateway's port (0: any free)")
    add_soak_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for chatty in ("httpx", "aiokafka", "matplotlib"):  # per-request INFO lines drown the report
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    if args.command == "prefetch":
        print(f"Apache Kafka {KAFKA_VERSION} jars in {ensure_jars()}")
        return 0
    if args.command == "env":
        return _env(args)
    if args.command in ("soak-env", "soak-suite"):
        return int(args.run(args))
    if args.command == "traffic":
        from simulator.traffic import run_traffic  # noqa: PLC0415

        args.bootstrap = args.bootstrap or os.environ.get(
            "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"
        )
        return run_traffic(args)
    if args.command == "load":
        from simulator.load import run_load  # noqa: PLC0415

        return run_load(args)
    if args.command == "sweep":
        from simulator.sweep import run_sweep  # noqa: PLC0415

        return run_sweep(args)
    if args.command == "hostile":
        from simulator.hostile_run import run_from_cli  # noqa: PLC0415

        return run_from_cli(args)
    if args.command == "demo":
        from simulator.demo import run_demo  # noqa: PLC0415

        return run_demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
