"""What a Kafka cluster's metadata says now: live brokers, and each partition's leader and ISR."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.metadata import MetadataRequest

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


def _view(obj: dict[str, Any]) -> tuple[set[int], list[PartitionState]]:
    """One MetadataResponse as (live broker ids, partition states): one broker's view, at once."""
    brokers = {int(b["node_id"]) for b in obj["brokers"]}
    states = [
        PartitionState(
            topic=t["topic"],
            partition=int(p["partition"]),
            leader=int(p["leader"]),
            replicas=tuple(int(r) for r in p["replicas"]),
            isr=tuple(int(r) for r in p["isr"]),
        )
        for t in obj["topics"]
        if t.get("error_code") == 0
        for p in t.get("partitions") or []
    ]
    return brokers, states


async def _ask(
    admin: AIOKafkaAdminClient, topics: list[str] | None, node_id: int | None = None
) -> tuple[set[int], list[PartitionState]]:
    # `_send_request` is the admin's own way to one node (a random one when node_id is None);
    # the public describe_* calls each go to a random broker, so two of them may mix views.
    response = await admin._send_request(MetadataRequest(topics), node_id)
    return _view(response.to_object())


@asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        yield admin
    finally:
        await admin.close()


async def _metadata(
    bootstrap: str, topics: list[str] | None
) -> tuple[set[int], list[PartitionState]]:
    async with _admin(bootstrap) as admin:
        return await _ask(admin, topics)


async def _every_view(
    bootstrap: str, topics: list[str] | None
) -> dict[int, tuple[set[int], list[PartitionState]]]:
    async with _admin(bootstrap) as admin:
        brokers, _ = await _ask(admin, topics)  # which brokers are live, says a random one
        return {node: await _ask(admin, topics, node) for node in sorted(brokers)}


def every_view(
    bootstrap: str, topics: list[str] | None = None, *, timeout_s: float = 10.0
) -> dict[int, tuple[set[int], list[PartitionState]]] | None:
    """What each live broker's own metadata says, by broker id; None when one did not answer.
    Brokers learn of leader and ISR changes each on its own, a little apart: a condition read
    from one broker may not hold yet on the next one asked (seen: ISR full on one, short on
    the next, just after a restarted broker caught up)."""
    return probe(_every_view(bootstrap, topics), timeout_s)


def metadata(
    bootstrap: str, topics: list[str] | None = None, *, timeout_s: float = 10.0
) -> tuple[set[int], list[PartitionState]] | None:
    """(ids of the live, unfenced brokers; the partitions of `topics`, default all, internal
    ones included), or None when no broker of `bootstrap` answered in time."""
    return probe(_metadata(bootstrap, topics), timeout_s)
