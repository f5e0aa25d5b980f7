"""`python -m simulator demo`: Kafka, Redis, EventBridge and gentle traffic; the demo page URL."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import secrets
import signal
import tempfile
from pathlib import Path

from simulator.load import process_settings, running
from simulator.load_procs import ServiceProcess
from simulator.processes import free_port, port_open
from simulator.services import services
from simulator.topics import create_topics
from simulator.traffic import DEFAULT_TOPIC, produce_traffic, traffic_config


def _banner(url: str, args: argparse.Namespace, workdir: Path) -> str:
    line = "=" * 64
    return "\n".join(
        [
            line,
            f"  Demo: {url}",
            f"  user 1 of {args.users}, about {args.rate:g} events/s in all; Ctrl-C to stop",
            f"  logs: {workdir}",
            line,
        ]
    )


async def _traffic(bootstrap: str, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    config = traffic_config(args, math.inf)
    await produce_traffic(bootstrap, DEFAULT_TOPIC, config, partitions=3, stop=stop)


def run_demo(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, then stop EventBridge and the services we started, by PID."""
    port = args.port if args.port and not port_open(args.port) else free_port()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-demo-")))
        svc = stack.enter_context(services(workdir / "services"))
        settings = process_settings(svc, "", port=port, secret=secrets.token_urlsafe(32))
        settings["kafka"].update(topic=DEFAULT_TOPIC, group_id="eventbridge-consumer")
        # The product's default key layout.
        settings["redis"] = {"url": svc.redis_url, "cluster": svc.redis_cluster}
        settings["gateway"].update(demo_enabled=True, demo_user="1", heartbeat_s=5.0)
        create_topics(svc.kafka_bootstrap, {DEFAULT_TOPIC: 3})
        app = ServiceProcess("run", settings, workdir / "eventbridge.log")
        stack.enter_context(running(app))
        app.wait_http(f"http://127.0.0.1:{port}/livez")
        print(_banner(f"http://127.0.0.1:{port}/demo", args, workdir), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_traffic(svc.kafka_bootstrap, args))
        print("stopping EventBridge, Kafka and Redis ...", flush=True)
    return 0
