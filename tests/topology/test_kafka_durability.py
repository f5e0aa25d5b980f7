"""EventBridge on 3 brokers: the topics it creates get RF 3 and min ISR 2, and with one broker
SIGKILLed a bridge goes on delivering and dead-lettering (acks=all with 2 in sync) and the
simulator's idempotent producer loses and duplicates nothing across a leader's loss."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.kafka.admin import topic_config
from adapters.kafka.settings import KafkaSettings
from application.ports import DeadLetter
from domain.model import Partition, Record
from eventbridge.wiring.bridge import dead_letters
from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from simulator.kafka_cluster import LocalKafkaCluster
from simulator.produce import produce_all, produce_paced
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import read_topic
from tests.integration.bridge_env import BridgeRun, summed
from tests.integration.test_bridge_resilience import assert_exactly_once

pytestmark = pytest.mark.timeout(300)


def _letter(topic: str) -> DeadLetter:
    record = Record(Partition(topic, 0), 7, b"k", b"not json", (), 0)
    return DeadLetter(record, "invalid_json", "not JSON")


def test_the_bridges_dead_letter_topic_gets_three_replicas_two_in_sync_and_takes_letters(
    kafka_cluster: LocalKafkaCluster, unique: str
) -> None:
    settings = KafkaSettings(bootstrap_servers=kafka_cluster.bootstrap, topic=f"dlq-rf-{unique}")

    async def scenario() -> str:
        resource = dead_letters(settings)  # as the bridge's container opens it
        producer = await anext(resource)
        try:
            await producer.send([_letter(settings.topic)])
        finally:
            await resource.aclose()
        return await topic_config(
            kafka_cluster.bootstrap, settings.dead_letter_topic, "min.insync.replicas"
        )

    min_insync = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert min_insync == "2"
    states = kafka_cluster.partitions([settings.dead_letter_topic])
    assert [len(p.replicas) for p in states] == [3]
    letters = asyncio.run(read_topic(kafka_cluster.bootstrap, settings.dead_letter_topic))
    assert [value for value, _ in letters] == [b"not json"]


def test_a_bridge_goes_on_delivering_and_dead_lettering_with_a_broker_killed(
    kafka_cluster: LocalKafkaCluster, real_services: Services, unique: str, tmp_path: Path
) -> None:
    on_cluster = replace(real_services, kafka_bootstrap=kafka_cluster.bootstrap)
    run = BridgeRun(on_cluster, unique, tmp_path, partitions=3)
    traffic = generate_n(4000, seed=43, users=30, bad_ratio=0.05)
    half = len(traffic) // 2

    async def scenario() -> int:
        await run.create_topic()
        await produce_all(kafka_cluster.bootstrap, run.topic, traffic[:half])
        bridge = run.bridge()
        bridge.start()
        try:
            await run.wait_drained(alive=[bridge])
            # The broker leading the dead-letter topic: its letters must find the new leader.
            leader = await asyncio.to_thread(kafka_cluster.leader_of, run.dlq_topic, 0)
            await asyncio.to_thread(kafka_cluster.kill, leader)
            try:
                await asyncio.to_thread(kafka_cluster.wait_new_leader, run.dlq_topic, 0, leader)
                [dlq] = await asyncio.to_thread(kafka_cluster.partitions, [run.dlq_topic])
                assert len(dlq.isr) == 2, "acks=all goes on with min.insync.replicas=2"
                lettered_before = summed(bridge, "dead_lettered")
                await produce_all(kafka_cluster.bootstrap, run.topic, traffic[half:])
                await run.wait_drained(alive=[bridge])
                lettered_while_down = summed(bridge, "dead_lettered") - lettered_before
            finally:
                await asyncio.to_thread(kafka_cluster.restart, leader)
        finally:
            assert bridge.terminate() == 0
        assert_exactly_once(await run.verification(traffic))
        return lettered_while_down

    lettered_while_down = asyncio.run(scenario())
    assert lettered_while_down > 0
    kafka_cluster.wait_in_sync(timeout_s=90)


def _per_key(
    values: list[bytes | None], by_value: dict[bytes, SimRecord]
) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = defaultdict(list)
    for v in values:
        if v is not None:
            out[by_value[v].key].append(v)
    return out


class _Sent(list[tuple[str, float]]):
    """The producer's record of what it sent; `reached` once `n` were."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.reached = asyncio.Event()

    def append(self, item: tuple[str, float]) -> None:
        super().append(item)
        if len(self) >= self.n:
            self.reached.set()


def test_simulated_traffic_survives_a_leader_kill_with_nothing_lost_or_duplicated(
    kafka_cluster: LocalKafkaCluster, unique: str
) -> None:
    topic = f"traffic-{unique}"
    records = [
        replace(r, at=i / 500)
        for i, r in enumerate(generate_n(3000, seed=47, users=30, bad_ratio=0.0))
    ]
    by_value = {r.value: r for r in records}
    assert len(by_value) == len(records), "every record is told apart by its bytes"

    async def scenario() -> list[bytes | None]:
        await create_topics_async(kafka_cluster.bootstrap, {topic: 3})  # RF 3, min ISR 2
        sent = _Sent(len(records) // 3)
        producing = asyncio.create_task(
            produce_paced(kafka_cluster.bootstrap, topic, records, on_send=[sent])
        )
        await sent.reached.wait()
        leader = await asyncio.to_thread(kafka_cluster.leader_of, topic, 0)
        await asyncio.to_thread(kafka_cluster.kill, leader)
        try:
            assert not producing.done(), "the leader must die while records are being sent"
            assert await producing == len(records)
        finally:
            await asyncio.to_thread(kafka_cluster.restart, leader)
        return [value for value, _ in await read_topic(kafka_cluster.bootstrap, topic)]

    got = asyncio.run(asyncio.wait_for(scenario(), 180))
    assert Counter(got) == Counter(r.value for r in records)  # none lost, none twice
    assert _per_key(got, by_value) == _per_key([r.value for r in records], by_value)  # in order
    kafka_cluster.wait_in_sync(timeout_s=90)
