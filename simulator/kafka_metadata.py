"""What a Kafka cluster's metadata says now: live brokers, and each partition's leader and ISR."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient

from simulator.kafka_ready import probe


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int  # -1: none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def in_sync(self) -> bool:
        """Every replica is in the in-sync set (and there is a leader)."""
        return self.leader >= 0 and set(self.isr) == set(self.replicas)


async def _metadata(
    bootstrap: str, topics: list[str] | None
) -> tuple[set[int], list[PartitionState]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        brokers = {int(b["node_id"]) for b in (await admin.describe_cluster())["brokers"]}
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    states = [
        PartitionState(
            topic=t["topic"],
            partition=int(p["partition"]),
            leader=int(p["leader"]),
            replicas=tuple(int(r) for r in p["replicas"]),
            isr=tuple(int(r) for r in p["isr"]),
        )
        for t in described
        if t.get("error_code") == 0
        for p in t.get("partitions") or []
    ]
    return brokers, states


def metadata(
    bootstrap: str, topics: list[str] | None = None, *, timeout_s: float = 10.0
) -> tuple[set[int], list[PartitionState]] | None:
    """(ids of the live, unfenced brokers; the partitions of `topics`, default all, internal
    ones included), or None when no broker of `bootstrap` answered in time."""
    return probe(_metadata(bootstrap, topics), timeout_s)
