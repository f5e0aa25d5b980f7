"""Durable acknowledgement on real replicas (redis.min_replicas = 1): a write no replica
confirmed is a failed write — nothing committed, the breaker opens, readiness says why — and
once a replica is back everything is delivered once; a Cluster master SIGKILLed mid-run (its
replica promoted) loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.crc import key_slot

from adapters.redis.client import open_client
from adapters.redis.keys import RedisKeys
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from application.ports import PublishResult, ReplicasShort
from domain.model import SseMessage
from simulator.genesis import generate_n
from simulator.processes import free_port
from simulator.redis_cluster import LocalRedisCluster
from simulator.redis_replicated import LocalRedisReplicated
from simulator.services import Services
from tests.contracts.store_harness import message
from tests.integration.bridge_env import BridgeRun
from tests.integration.test_bridge_resilience import assert_exactly_once
from tests.unit.telemetry.metrics_reading import total

pytestmark = pytest.mark.timeout(240)

DURABLE = {"min_replicas": 1, "replica_timeout_ms": 200}
# A breaker that opens after two failed writes and probes again after one second, so that a
# test sees the whole way (closed, open, half-open, closed) in a few seconds.
QUICK_BREAKER = {"minimum_calls": 2, "cool_down_s": 1.0, "window_s": 5.0}


async def _ready(port: int) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{port}/readyz")
        return response.status_code, response.json()


async def _metrics(port: int) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"http://127.0.0.1:{port}/metrics")).text


async def confirmed(store: RedisStreamStore, msg: SseMessage) -> PublishResult:
    """A replica that has just attached may not acknowledge at once (clean-clone runs saw the
    first WAIT 1 200 after a start, and after a restart, count 0): the premise is a pair that
    confirms, so the write is sent again (idempotent) until one is confirmed (15 s deadline)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            [ok] = await store.publish([msg])
            return ok
        except ReplicasShort:
            if time.monotonic() > deadline:
                raise


def test_the_store_waits_for_a_replica_and_raises_replicas_short_without_one(
    redis_replicated: LocalRedisReplicated, unique: str
) -> None:
    settings = RedisSettings(url=redis_replicated.url, sse_prefix=f"t{unique}:user:", **DURABLE)
    keys = RedisKeys(settings.sse_prefix)

    async def scenario() -> None:
        async with open_client(settings) as client:
            store = RedisStreamStore(client=client, settings=settings)
            first = message("1", "s")
            ok = await confirmed(store, first)
            assert ok.stream_id or ok.duplicate  # written once, whichever try was confirmed
            await asyncio.to_thread(redis_replicated.kill, redis_replicated.replica)
            try:
                late = message("1", "s")
                started = time.monotonic()
                with pytest.raises(ReplicasShort) as short:
                    await store.publish([late])
                assert time.monotonic() - started >= 0.15  # it waited replica_timeout_ms
                assert (short.value.wanted, short.value.acked) == (1, 0)
                assert short.value.retriable
                # Written on the primary all the same: a retry finds it there (idempotent).
                assert await client.xlen(keys.stream("1")) == 2
            finally:
                await asyncio.to_thread(redis_replicated.restart, redis_replicated.replica)
            again = await confirmed(store, late)  # the replica is back (and just attached)
            assert again.duplicate  # confirmed now, and not appended twice

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_with_its_replica_killed_nothing_is_committed_and_readiness_says_why_then_all_once(
    redis_replicated: LocalRedisReplicated, real_services: Services, unique: str, tmp_path: Path
) -> None:
    on_pair = replace(real_services, redis_url=redis_replicated.url, redis_cluster=False)
    port = free_port()
    run = BridgeRun(
        on_pair,
        unique,
        tmp_path,
        partitions=3,
        redis=DURABLE,
        circuit_breaker=QUICK_BREAKER,
        bridge={"http_port": port, "retry_backoff_s": 0.2, "retry_backoff_max_s": 1.0},
    )
    traffic = generate_n(900, seed=71, users=20, bad_ratio=0.0)
    first, second = traffic[:300], traffic[300:]

    async def scenario() -> None:
        await run.create_topic()
        bridge = run.bridge()
        bridge.start()
        try:
            await run.produce_steadily(first, rate=2000)
            await run.wait_drained(alive=[bridge])
            await asyncio.to_thread(redis_replicated.kill, redis_replicated.replica)
            try:
                await run.produce_steadily(second, rate=2000)

                async def says_short() -> bool:
                    status, body = await _ready(port)
                    reasons = body.get("reasons", [])
                    return status == 503 and {"redis_replicas_short", "breaker_open"} <= set(
                        reasons
                    )

                await run.wait_for(says_short, "readiness to report the shortfall", alive=[bridge])
                _, body = await _ready(port)
                assert "breaker_open" in body["reasons"]
                replication = body["redis"]["replication"]
                assert replication["min_replicas"] == 1
                assert replication["shortfalls"] >= 1
                assert "WAIT 1 200" in replication["last_shortfall"]
                assert [m["replicas_online"] for m in replication["masters"]] == [0]
                # Nothing delivered after the kill was committed: every such record is past
                # the committed offsets (and the count stays, the partitions paused).
                deliverable = sum(r.expect.outcome == "delivered" for r in second)
                assert await run.backlog() >= deliverable
                assert total(await _metrics(port), "eventbridge_redis_replica_shortfalls_total")
            finally:
                await asyncio.to_thread(redis_replicated.restart, redis_replicated.replica)
            await run.wait_drained(alive=[bridge])

            async def ready_again() -> bool:
                return (await _ready(port))[0] == 200

            await run.wait_for(ready_again, "readiness to recover", alive=[bridge])
        finally:
            assert bridge.terminate() == 0
        assert_exactly_once(await run.verification(traffic))

    asyncio.run(asyncio.wait_for(scenario(), 200))


def test_a_cluster_master_killed_mid_run_with_min_replicas_one_loses_nothing(
    redis_cluster: LocalRedisCluster, real_services: Services, unique: str, tmp_path: Path
) -> None:
    on_cluster = replace(real_services, redis_url=redis_cluster.url, redis_cluster=True)
    run = BridgeRun(
        on_cluster,
        unique,
        tmp_path,
        partitions=3,
        redis=DURABLE,
        circuit_breaker=QUICK_BREAKER,
        bridge={"retry_backoff_s": 0.2, "retry_backoff_max_s": 1.0},
    )
    traffic = generate_n(3000, seed=72, users=40, bad_ratio=0.0)
    victim_user = next(r.expect.user_id for r in traffic if r.expect.user_id)
    master = redis_cluster.master_of(RedisKeys(run.prefix).stream(victim_user))

    async def scenario() -> None:
        await run.create_topic()
        bridge = run.bridge()
        bridge.start()
        try:
            producing = run.produce_steadily(traffic, rate=300)  # ~10 s of traffic
            await asyncio.sleep(3)  # mid-run: the fault lands while events flow
            await asyncio.to_thread(redis_cluster.kill, master)
            try:
                await asyncio.to_thread(redis_cluster.wait_serving, 30)  # replica promoted
            finally:
                await asyncio.to_thread(redis_cluster.restart, master)
            await asyncio.to_thread(redis_cluster.wait_healthy, 60)  # it rejoined, a replica
            await producing
            await run.wait_drained(alive=[bridge])
        finally:
            assert bridge.terminate() == 0
        assert_exactly_once(await run.verification(traffic))

    asyncio.run(asyncio.wait_for(scenario(), 200))


def _same_slot_users(avoid: set[int]) -> tuple[str, str]:
    """Two user ids whose keys share one hash slot (their hash tags collide)."""
    seen: dict[int, str] = {}
    for n in range(1, 200_000):
        user = str(n)
        slot = key_slot(user.encode())
        if slot in avoid:
            continue
        if slot in seen:
            return seen[slot], user
        seen[slot] = user
    raise AssertionError("no two user ids share a slot")


def test_on_a_cluster_a_user_the_acl_forbids_is_refused_alone_even_beside_one_in_its_slot(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    allowed, forbidden = _same_slot_users(set())
    other = "x"  # another slot (and likely another master)
    name = f"bridge-{unique}"
    rules = [
        "on", ">pw", "+@all", "&*", f"~t{unique}:session:*",
        f"~t{unique}:user:{{{allowed}}}:*", f"~t{unique}:user:{{{other}}}:*",
    ]  # fmt: skip
    nodes = [n.client() for n in redis_cluster.nodes]
    try:
        for node in nodes:  # ACLs are per node
            node.execute_command("ACL", "SETUSER", name, *rules)
        host = redis_cluster.url.replace("redis://", f"redis://{name}:pw@", 1)
        settings = RedisSettings(url=host, cluster=True, sse_prefix=f"t{unique}:user:")
        settings = settings.model_copy(update={"session_prefix": f"t{unique}:session:"})

        async def scenario() -> None:
            async with open_client(settings) as client:
                store = RedisStreamStore(client=client, settings=settings)
                batch = [message(allowed, "a"), message(forbidden, "f"), message(other, "o")]
                results = await store.publish(batch)
                assert results[0].stream_id
                assert results[1].refused is not None
                assert "NoPermissionError" in results[1].refused
                assert results[2].stream_id
                assert [r.owner for r in results] == [allowed, None, other]

        asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        for node in nodes:
            with contextlib.suppress(redis.RedisError):
                node.execute_command("ACL", "DELUSER", name)
            node.close()


def test_on_a_cluster_masters_that_forgot_the_script_get_it_again(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    settings = RedisSettings(url=redis_cluster.url, cluster=True, sse_prefix=f"t{unique}:user:")

    async def scenario() -> None:
        async with open_client(settings) as client:
            store = RedisStreamStore(client=client, settings=settings)
            users = [str(n) for n in range(12)]  # on every master, most likely
            await store.publish([message(u, "s") for u in users])
            for node in redis_cluster.nodes:  # every node forgets it (a restart would too)
                await asyncio.to_thread(node.command, "SCRIPT", "FLUSH")
            results = await store.publish([message(u, "s") for u in users])
            assert all(r.stream_id and not r.duplicate for r in results)

    asyncio.run(asyncio.wait_for(scenario(), 30))
