"""`python -m simulator traffic`: seeded Genesis traffic produced to Kafka at a steady pace."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field

from simulator.genesis import generate
from simulator.genesis_model import SimRecord, TrafficConfig
from simulator.produce import produce_paced
from simulator.topics import create_topics_async

DEFAULT_TOPIC = "genesis.domain.events"


def add_traffic_arguments(parser: argparse.ArgumentParser, *, rate: float, users: int) -> None:
    """The knobs of SPEC §11 shared by `traffic`, `load` and `demo`."""
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", type=int, default=users)
    parser.add_argument("--rate", type=float, default=rate, help="events per second, all users")
    parser.add_argument("--bad-ratio", type=float, default=0.02, help="share of bad records")


def traffic_config(args: argparse.Namespace, duration_s: float) -> TrafficConfig:
    return TrafficConfig(
        seed=args.seed,
        users=args.users,
        rate=args.rate,
        duration_s=duration_s,
        bad_ratio=args.bad_ratio,
    )


@dataclass
class Tally:
    """Every record handed to the producer, kept for the report, with its expectation."""

    records: list[SimRecord] = field(default_factory=list)

    def tee(self, config: TrafficConfig) -> Iterator[SimRecord]:
        for record in generate(config):
            self.records.append(record)
            yield record


async def produce_traffic(
    bootstrap: str,
    topic: str,
    config: TrafficConfig,
    *,
    partitions: int = 6,
    stop: asyncio.Event | None = None,
    tally: Tally | None = None,
    sent: list[tuple[str, float]] | None = None,
    acked: list[tuple[str, float]] | None = None,
) -> int:
    """Create the topic if needed, then produce `config`'s traffic paced in real time."""
    await create_topics_async(bootstrap, {topic: partitions})
    tally = tally or Tally()
    sinks = [sent] if sent is not None else []
    acks = [acked] if acked is not None else []
    return await produce_paced(
        bootstrap, topic, tally.tee(config), stop=stop, on_send=sinks, on_ack=acks
    )


def run_traffic(args: argparse.Namespace) -> int:
    """The `traffic` command: produce until the duration is over (or SIGINT/SIGTERM)."""
    config = traffic_config(args, args.duration)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tally = Tally()
        n = await produce_traffic(
            args.bootstrap, args.topic, config, partitions=args.partitions, stop=stop, tally=tally
        )
        outcomes: dict[str, int] = {}
        for record in tally.records[:n]:
            outcomes[record.expect.outcome] = outcomes.get(record.expect.outcome, 0) + 1
        print(f"produced {n} records to {args.topic}: {outcomes}")
        return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return 130
