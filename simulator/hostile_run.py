"""`python -m simulator hostile`: hostile records among Genesis traffic, through a real bridge.

The records go to a real Kafka topic (and its dead-letter topic) whose `max.message.bytes` is
`limit`; one `eventbridge bridge` process consumes them. A bridge that exits is started again
and counted: a correct run has none. Then every record is held to its verdict: valid and
harmless ones delivered exactly once, in order per session, to the right user; hostile ones
dead-lettered with their reason (by source partition and offset) or ignored; all committed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.genesis_model import Expectation, SimRecord
from simulator.hostile import KINDS, Hostile, hostile
from simulator.raw_produce import produce_raw_headers
from simulator.services import Services
from simulator.verify import Verification, group_backlog, read_streams, read_topic, verify

LIMIT = 262_144  # the topics' max.message.bytes: records at it must not stall anything
Source = tuple[int, int]  # (partition, offset)


@dataclass
class HostileReport:
    """What was tried, what became of it, and what did not go as it must."""

    tried_by_kind: Counter[str] = field(default_factory=Counter)
    dead_lettered_by_reason: Counter[str] = field(default_factory=Counter)
    truncated_letters: int = 0
    restarts: int = 0
    valid: Verification = field(default_factory=Verification)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        v = self.valid
        return not self.problems and self.restarts == 0 and v.exactly_once and v.lost == 0

    def lines(self) -> list[str]:
        v = self.valid
        return [
            f"records: {sum(self.tried_by_kind.values())} in {self.seconds:.1f} s",
            "tried by kind: "
            + ", ".join(f"{k}={n}" for k, n in sorted(self.tried_by_kind.items())),
            "dead-lettered by reason: "
            + ", ".join(f"{k}={n}" for k, n in sorted(self.dead_lettered_by_reason.items())),
            f"dead letters truncated to fit: {self.truncated_letters}",
            f"bridge restarts: {self.restarts}",
            f"delivered {v.delivered} of {v.expected_delivered}; lost {v.lost}, duplicated"
            f" {v.duplicated}, out of order {v.out_of_order}, misrouted {v.misrouted},"
            f" unexpected {v.unexpected}",
            f"verdicts not as they must be: {len(self.problems)}",
            *self.problems[:20],
        ]


def mixed(records: int, seed: int, share: float, limit: int) -> list[SimRecord | Hostile]:
    """`records` records, `share` of them hostile (every kind at least once when there is
    room), the rest Genesis traffic; seeded."""
    rng = random.Random(seed)
    n_hostile = round(records * share)
    kinds = list(KINDS) * (n_hostile // len(KINDS) + 1)
    rng.shuffle(kinds)
    first = list(KINDS)
    rng.shuffle(first)
    chosen = (first + kinds)[:n_hostile]
    bad: list[SimRecord | Hostile] = [hostile(rng, kind, limit=limit) for kind in chosen]
    good: list[SimRecord | Hostile] = list(
        generate_n(records - n_hostile, seed=seed, users=30, bad_ratio=0.02)
    )
    at = set(rng.sample(range(records), n_hostile))
    bad_ones, good_ones = iter(bad), iter(good)
    return [next(bad_ones) if index in at else next(good_ones) for index in range(records)]


async def _create(bootstrap: str, topics: list[str], limit: int, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"max.message.bytes": str(limit)}
        await admin.create_topics(
            [NewTopic(t, partitions, 1, topic_configs=config) for t in topics]
        )
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, records: list[SimRecord | Hostile]) -> list[Source]:
    """Each record in order (some by hand); the (partition, offset) of each."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4 * LIMIT
    )
    await producer.start()
    pending: list[Any] = []
    try:
        for r in records:
            # Raw header names, or neither key nor value: no aiokafka producer writes those.
            if isinstance(r, Hostile) and (r.raw_headers is not None or r.key is r.value is None):
                raw = r.raw_headers or ()
                [placed] = await produce_raw_headers(bootstrap, topic, [(r.key, r.value, raw)])
                pending.append(placed)
                continue
            pending.append(await producer.send(topic, r.value, key=r.key, headers=list(r.headers)))
        await producer.flush()
        out: list[Source] = []
        for item in pending:
            if isinstance(item, tuple):
                out.append(item)
            else:
                meta = await item
                out.append((meta.partition, meta.offset))
        return out
    finally:
        await producer.stop()


async def _letters(bootstrap: str, topic: str) -> list[dict[str, bytes]]:
    return [headers for _, headers in await read_topic(bootstrap, topic)]


def _as_sim(h: Hostile) -> SimRecord:
    expect = Expectation("delivered", h.user, h.session, h.event_id, None, None, h.kind)
    return SimRecord(h.key or b"", h.value or b"", h.headers, 0.0, expect)


def check(
    records: list[SimRecord | Hostile],
    sources: list[Source],
    letters: list[dict[str, bytes]],
    topic: str,
    report: HostileReport,
) -> None:
    """Every record that must be dead-lettered is, with its reason; no other is."""
    found: dict[Source, set[str]] = {}
    for h in letters:
        if h.get("dlq.source.topic", b"").decode() != topic:
            continue
        source = (int(h["dlq.source.partition"]), int(h["dlq.source.offset"]))
        if source not in found:
            report.dead_lettered_by_reason[h["dlq.reason"].decode()] += 1
            report.truncated_letters += h.get("dlq.truncated") == b"true"
        found.setdefault(source, set()).add(h["dlq.reason"].decode())
    for r, source in zip(records, sources, strict=True):
        kind = r.kind if isinstance(r, Hostile) else r.expect.kind
        outcome = r.outcome if isinstance(r, Hostile) else r.expect.outcome
        reason = r.reason if isinstance(r, Hostile) else r.expect.reason
        got = found.get(source, set())
        if outcome == "invalid" and got != {reason}:
            report.problems.append(f"{kind} at {source}: want dead letter {reason}, got {got}")
        elif outcome != "invalid" and got:
            report.problems.append(f"{kind} at {source}: want {outcome}, got dead letter {got}")


async def run_hostile(
    services: Services,
    workdir: Path,
    *,
    records: int,
    seed: int,
    share: float = 0.25,
    partitions: int = 4,
    limit: int = LIMIT,
    timeout_s: float = 300.0,
) -> HostileReport:
    unique = uuid.uuid4().hex[:8]
    topic, bootstrap = f"hostile-{unique}", services.kafka_bootstrap
    settings: dict[str, dict[str, Any]] = {
        "kafka": {"bootstrap_servers": bootstrap, "topic": topic, "group_id": f"eb-{unique}"},
        "redis": {
            "url": services.redis_url,
            "sse_prefix": f"h{unique}:user:",
            "session_prefix": f"h{unique}:session:",
        },
        "bridge": {"commit_interval_s": 0.3, "http_port": 0},
    }
    report = HostileReport()
    mix = mixed(records, seed, share, limit)
    for r in mix:
        report.tried_by_kind[r.kind if isinstance(r, Hostile) else "genesis:" + r.expect.kind] += 1
    await _create(bootstrap, [topic, f"{topic}.dlq"], limit, partitions)
    started = time.monotonic()
    sources = await _produce(bootstrap, topic, mix)
    bridge = EventBridgeProcess("bridge", settings, workdir / "bridge-0.log")
    bridge.start()
    try:
        deadline = time.monotonic() + timeout_s
        while await group_backlog(bootstrap, topic, settings["kafka"]["group_id"]) > 0:
            if time.monotonic() > deadline:
                report.problems.append(f"not everything was committed within {timeout_s:.0f} s")
                break
            if not bridge.running:
                report.restarts += 1
                bridge = EventBridgeProcess(
                    "bridge", settings, workdir / f"bridge-{report.restarts}.log"
                )
                bridge.start()
            await asyncio.sleep(0.3)  # polling another process's progress
    finally:
        code = bridge.terminate()
    report.seconds = time.monotonic() - started
    if code not in (0, None):
        report.problems.append(f"the bridge exited with {code} when stopped")
    check(mix, sources, await _letters(bootstrap, f"{topic}.dlq"), topic, report)
    # Genesis records and harmless hostile ones: delivered once, in order, to the right user.
    held = [
        r if isinstance(r, SimRecord) else _as_sim(r)
        for r in mix
        if isinstance(r, SimRecord) or r.outcome == "delivered"
    ]
    streams = await read_streams(services.redis_url, settings["redis"]["sse_prefix"])
    report.valid = verify(held, streams, [])
    return report


def run_from_cli(args: argparse.Namespace) -> int:
    from simulator.services import services  # noqa: PLC0415

    with services() as svc:
        workdir = Path(args.workdir or f"/tmp/eventbridge-hostile-{uuid.uuid4().hex[:6]}")
        workdir.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(
            run_hostile(svc, workdir, records=args.records, seed=args.seed, share=args.share)
        )
    for line in report.lines():
        print(line)
    print(f"bridge logs: {workdir}")
    return 0 if report.ok else 1


def add_hostile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=20_000, help="records in all")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--share", type=float, default=0.25, help="share of hostile records")
    parser.add_argument("--workdir", default=None, help="where the bridge logs go")
