"""The simulator's command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from simulator.local_kafka import KAFKA_VERSION, ensure_jars
from simulator.services import services


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


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prefetch", help=f"download Apache Kafka {KAFKA_VERSION} jars into the cache")
    sub.add_parser("env", help="start Kafka and Redis and print their addresses")
    args = parser.parse_args(argv)
    if args.command == "prefetch":
        print(f"Apache Kafka {KAFKA_VERSION} jars in {ensure_jars()}")
        return 0
    if args.command == "env":
        return _env(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
