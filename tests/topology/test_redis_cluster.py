"""A local Redis Cluster of 3 masters and 3 replicas: it serves every slot, survives the loss of
a master (its replica is promoted), takes the old master back as a replica, fails over on
request, and is reachable through `REDIS_URL` like any existing cluster."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import MovedError

from adapters.redis.client import make_client
from adapters.redis.settings import RedisSettings
from simulator.redis_cluster import LocalClusterNode, LocalRedisCluster
from simulator.services import services

pytestmark = pytest.mark.timeout(120)


def _client(cluster: LocalRedisCluster) -> RedisCluster:
    # Every node as a startup node: a client made while one is down still finds the others.
    nodes = [ClusterNode(host, port) for host, port in cluster.startup_nodes]
    return RedisCluster(startup_nodes=nodes, decode_responses=True)


def _key_per_slot(prefix: str) -> dict[int, str]:
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < REDIS_CLUSTER_HASH_SLOTS:
        key = f"{prefix}:{i}"
        keys.setdefault(key_slot(key.encode()), key)
        i += 1
    return keys


def _write_replicated(node: LocalClusterNode, key: str, value: str) -> None:
    """SET on the master, then WAIT on the same connection until its replica has it, so that
    a kill right after cannot lose it (replication is asynchronous)."""
    client = node.client()
    try:
        client.set(key, value)
        assert client.execute_command("WAIT", 1, 5000) == 1
    finally:
        client.close()


def test_three_masters_each_with_a_replica_serve_a_key_in_every_slot(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    masters = {redis_cluster.master_of(slot=s) for s in (0, 8000, 16383)}
    assert len(masters) == 3
    for master in masters:
        [replica] = redis_cluster.replicas_of(master)
        assert replica.role() == "slave"
    keys = _key_per_slot(unique)

    async def scenario() -> list[str | None]:
        client = _client(redis_cluster)
        try:
            async with client.pipeline(transaction=False) as pipe:
                for slot, key in keys.items():
                    pipe.set(key, str(slot), ex=60)
                await pipe.execute()
            async with client.pipeline(transaction=False) as pipe:
                for key in keys.values():
                    pipe.get(key)
                return list(await pipe.execute())
        finally:
            await client.aclose()

    values = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert values == [str(slot) for slot in keys]


def test_a_killed_master_is_replaced_by_its_replica_and_rejoins_as_a_replica(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    key = f"{unique}:failover"
    master = redis_cluster.master_of(key)
    [replica] = redis_cluster.replicas_of(master)
    _write_replicated(master, key, "before")

    redis_cluster.kill(master)
    redis_cluster.wait_serving(timeout_s=30)
    assert redis_cluster.master_of(key) is replica
    assert replica.role() == "master"

    async def the_slot_is_writable() -> tuple[str | None, str | None]:
        client = _client(redis_cluster)
        try:
            before = await client.get(key)
            await client.set(key, "after")
            return before, await client.get(key)
        finally:
            await client.aclose()

    assert asyncio.run(asyncio.wait_for(the_slot_is_writable(), 30)) == ("before", "after")

    redis_cluster.restart(master)
    redis_cluster.wait_healthy(timeout_s=60)
    assert master.role() == "slave"
    assert redis_cluster.replicas_of(replica) == [master]
    assert redis_cluster.master_of(key) is replica
    # It follows the new master: it has the write made while it was down.
    client = master.client()
    try:
        client.execute_command("READONLY")
        assert client.get(key) == "after"
    finally:
        client.close()


def test_a_planned_failover_swaps_master_and_replica_without_losing_a_write(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    key = f"{unique}:planned"
    master = redis_cluster.master_of(key)
    [replica] = redis_cluster.replicas_of(master)
    _write_replicated(master, key, "kept")

    redis_cluster.failover(replica)
    assert redis_cluster.master_of(key) is replica
    redis_cluster.wait_healthy(timeout_s=30)
    assert master.role() == "slave"
    new, old = replica.client(), master.client()
    try:
        assert new.get(key) == "kept"
        with pytest.raises(MovedError):  # the old master sends writers to the new one
            old.set(key, "on the old master")
    finally:
        new.close()
        old.close()


def test_redis_url_of_an_existing_cluster_with_the_cluster_flag_is_used_as_it_is(
    redis_cluster: LocalRedisCluster, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_cluster.url)
    monkeypatch.setenv("EVENTBRIDGE__REDIS__CLUSTER", "true")
    with services(need_kafka=False, topology="single") as provided:
        assert (provided.redis_source, provided.redis_cluster) == ("env", True)
        assert provided.redis is None
        assert provided.redis_local_cluster is None
        settings = RedisSettings(url=provided.redis_url, cluster=provided.redis_cluster)

        async def round_trip() -> bytes | None:
            client = make_client(settings)
            try:
                # Keys in different slots, hence on different masters.
                for i in range(10):
                    await client.set(f"{unique}:{i}", "v", ex=60)
                return await client.get(f"{unique}:9")
            finally:
                await client.aclose()

        assert asyncio.run(asyncio.wait_for(round_trip(), 30)) == b"v"
