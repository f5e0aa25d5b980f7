"""The simulator's command line: prefetch, env, traffic, load and demo."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from simulator.hostile_run import add_hostile_arguments
from simulator.load import add_load_arguments
from simulator.local_kafka import KAFKA_VERSION, ensure_jars
from simulator.services import services
from simulator.traffic import DEFAULT_TOPIC, add_traffic_arguments


def _env(_: argparse.Namespace) -> int:
    """Start (or find) Kafka and Redis, print where they are, keep them until interrupted."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with services() as s:
        print(f"KAFKA_BOOTSTRAP_SERVERS={s.kafka_bootstrap}")
        print(f"REDIS_URL={s.redis_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prefetch", help=f"download Apache Kafka {KAFKA_VERSION} jars into the cache")
    sub.add_parser("env", help="start Kafka and Redis and print their addresses")

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

    hostile = sub.add_parser(
        "hostile", help="hostile records among Genesis traffic through a real bridge, verified"
    )
    add_hostile_arguments(hostile)

    demo = sub.add_parser("demo", help="everything running locally, and the demo page URL")
    add_traffic_arguments(demo, rate=2.0, users=5)
    demo.add_argument("--port", type=int, default=8080, help="the gateway's port (0: any free)")
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
    if args.command == "traffic":
        from simulator.traffic import run_traffic  # noqa: PLC0415

        args.bootstrap = args.bootstrap or os.environ.get(
            "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"
        )
        return run_traffic(args)
    if args.command == "load":
        from simulator.load import run_load  # noqa: PLC0415

        return run_load(args)
    if args.command == "hostile":
        from simulator.hostile_run import run_from_cli  # noqa: PLC0415

        return run_from_cli(args)
    if args.command == "demo":
        from simulator.demo import run_demo  # noqa: PLC0415

        return run_demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
