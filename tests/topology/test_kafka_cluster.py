"""A local Kafka cluster of 3 KRaft brokers: RF 3 with min ISR 2, acks=all writes and group
commits, the loss of a partition leader (a new one is elected and writes go on with 2 in
sync), and the broker's return (the ISR is whole again)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from simulator.kafka_cluster import LocalKafkaCluster
from simulator.kafka_metadata import every_view
from simulator.services import services

pytestmark = pytest.mark.timeout(150)


def _producer(cluster: LocalKafkaCluster) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=cluster.bootstrap, acks="all", enable_idempotence=True
    )


async def _consume(cluster: LocalKafkaCluster, topic: str, group: str, n: int) -> list[bytes]:
    """The first `n` records of `topic` through a consumer group that commits them."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=cluster.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got: list[bytes] = []
        while len(got) < n:
            batches = await consumer.getmany(timeout_ms=1000)
            got += [m.value for ms in batches.values() for m in ms if m.value is not None]
        await consumer.commit()
        return got
    finally:
        await consumer.stop()


async def _min_insync(cluster: LocalKafkaCluster, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})]
        )
    finally:
        await admin.close()
    [(_, _, _, _, entries)] = response.resources
    return str({e[0]: e[1] for e in entries}["min.insync.replicas"])


def test_three_brokers_replicate_a_topic_to_all_and_take_acks_all_writes_and_commits(
    kafka_cluster: LocalKafkaCluster, unique: str
) -> None:
    topic = f"rf3-{unique}"
    kafka_cluster.create_topics({topic: 3})
    states = kafka_cluster.partitions([topic])
    assert len(states) == 3
    assert all(len(p.replicas) == 3 and set(p.isr) == {1, 2, 3} for p in states)
    assert {p.leader for p in states} <= {1, 2, 3}
    # create_topics waited until every broker's own metadata says so, not just one's.
    views = every_view(kafka_cluster.bootstrap, [topic])
    assert views is not None
    assert set(views) == {1, 2, 3}
    assert all(
        brokers == {1, 2, 3} and len(ps) == 3 and all(p.in_sync for p in ps)
        for brokers, ps in views.values()
    )

    async def scenario() -> tuple[str, list[bytes]]:
        producer = _producer(kafka_cluster)
        await producer.start()
        try:
            for i in range(30):
                await producer.send_and_wait(topic, f"{i}".encode(), partition=i % 3)
        finally:
            await producer.stop()
        return await _min_insync(kafka_cluster, topic), await _consume(
            kafka_cluster, topic, f"g-{unique}", 30
        )

    min_insync, got = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert min_insync == "2"
    assert sorted(got, key=int) == [f"{i}".encode() for i in range(30)]


def test_a_killed_leader_is_replaced_writes_go_on_with_two_in_sync_and_it_comes_back_in_sync(
    kafka_cluster: LocalKafkaCluster, unique: str
) -> None:
    topic = f"failover-{unique}"
    kafka_cluster.create_topics({topic: 1})
    old = kafka_cluster.leader_of(topic)

    async def scenario() -> list[bytes]:
        producer = _producer(kafka_cluster)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, f"{i}".encode())
            await asyncio.to_thread(kafka_cluster.kill, old)
            new = await asyncio.to_thread(kafka_cluster.wait_new_leader, topic, 0, old)
            assert new is not old
            [state] = await asyncio.to_thread(kafka_cluster.partitions, [topic])
            assert set(state.isr) == {1, 2, 3} - {old.node_id}
            # The same producer goes on: acks=all needs min.insync.replicas=2, and 2 are left.
            for i in range(10, 20):
                await producer.send_and_wait(topic, f"{i}".encode())
        finally:
            await producer.stop()
        return await _consume(kafka_cluster, topic, f"g-{unique}", 20)

    got = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert got == [f"{i}".encode() for i in range(20)]
    kafka_cluster.restart(old)
    kafka_cluster.wait_in_sync(timeout_s=60)
    [state] = kafka_cluster.partitions([topic])
    assert set(state.isr) == {1, 2, 3}


def test_kafka_bootstrap_servers_of_an_existing_cluster_are_used_as_they_are(
    kafka_cluster: LocalKafkaCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_cluster.bootstrap)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # not started, not used here
    with services(topology="single") as provided:
        assert provided.kafka_source == "env"
        assert provided.kafka_bootstrap.count(",") == 2
        assert provided.kafka is None
        assert provided.kafka_cluster is None
