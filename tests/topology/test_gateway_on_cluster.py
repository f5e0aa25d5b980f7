"""The gateway on a Redis Cluster (SPEC §14): live delivery, resume and reset, tickets, per-user
leases, and a readiness that tells the truth when a master dies and after its replica took over."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from application.ports import StoreUnavailable
from simulator.redis_cluster import LocalRedisCluster
from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, eventually
from tests.integration.gateway.sse_client import open_stream

pytestmark = pytest.mark.timeout(240)


def on_cluster(
    cluster: LocalRedisCluster, unique: str, **sections: dict[str, Any]
) -> GatewayHarness:
    """A gateway of this test (its own key prefix) on the local Redis Cluster."""
    services = Services("", cluster.url, "none", "local", redis_cluster=True)
    return GatewayHarness(services, unique, **sections)


def users_on_every_master(cluster: LocalRedisCluster, gw: GatewayHarness) -> list[str]:
    """One user per master (their streams in slots of three different nodes)."""
    found: dict[int, str] = {}
    for i in range(1000):
        master = cluster.master_of(gw.keys.stream(f"u{i}"))
        found.setdefault(master.port, f"u{i}")
        if len(found) == 3:
            return list(found.values())
    raise AssertionError("no user for some master")


async def _ticket(gw: GatewayHarness, user: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        headers = {"authorization": f"Bearer {gw.token(user)}"}
        return await client.post("/v1/sse-tickets", headers=headers)


async def _readyz(gw: GatewayHarness) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        response = await client.get("/readyz")
    return response.status_code, response.json()


def test_live_resume_reset_tickets_and_leases_work_for_users_on_every_master(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    gw = on_cluster(redis_cluster, unique, gateway={"max_connections_per_user": 2})

    async def scenario() -> None:
        async with gw.serve():
            assert (await _readyz(gw))[0] == 200
            for user in users_on_every_master(redis_cluster, gw):
                # A ticket (SET EX, GET, GETDEL on its own slot) opens one stream, once.
                issued = await _ticket(gw, user)
                assert issued.status_code == 200, issued.text
                params = {"ticket": issued.json()["ticket"]}
                async with open_stream(gw.base_url, params=params) as stream:
                    await stream.next()  # retry:
                    live = await gw.publish(user, 3)
                    assert [f.id for f in await stream.messages(3)] == live
                    # The user's second lease is taken; a third is refused on the Cluster too.
                    auth = {"authorization": f"Bearer {gw.token(user)}"}
                    async with (
                        open_stream(gw.base_url, token=gw.token(user)),
                        httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client,
                    ):
                        refused = await client.get("/v1/events", headers=auth)
                        assert refused.status_code == 429
                        assert (await _ticket(gw, user)).status_code == 429
                        used = await client.get("/v1/events", params=params)
                        assert used.status_code == 401  # a ticket opens one stream
                # Resume after the first: the rest, then live.
                headers = {"last-event-id": live[0]}
                async with open_stream(gw.base_url, token=gw.token(user), headers=headers) as s:
                    assert [f.id for f in await s.messages(2)] == live[1:]
                # The stream expired (its keys gone): a reset, then what is there now.
                async with gw.redis() as client:
                    await client.delete(gw.keys.stream(user), gw.keys.ids(user))
                headers = {"last-event-id": live[-1]}
                async with open_stream(gw.base_url, token=gw.token(user), headers=headers) as s:
                    [reset] = await s.messages(1)
                    assert reset.event == "reset"
                    assert orjson.loads(reset.text)["reason"] == "expired"
                    again = await gw.publish(user, 1)
                    assert [f.id for f in await s.messages(1)] == again

    asyncio.run(scenario())


def test_readiness_is_down_while_a_master_is_dead_and_up_once_its_replica_serves(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    gw = on_cluster(redis_cluster, unique)
    # A master other than the URL's node, which this test's own clients start from.
    seed = redis_cluster.nodes[0].port
    user = next(
        u
        for u in users_on_every_master(redis_cluster, gw)
        if redis_cluster.master_of(gw.keys.stream(u)).port != seed
    )
    master = redis_cluster.master_of(gw.keys.stream(user))

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token(user)) as stream:
            await stream.next()  # retry:
            assert (await _readyz(gw))[0] == 200
            await asyncio.to_thread(redis_cluster.kill, master)
            try:
                # At once: the dead master's PING fails (later: its slots have no master).
                status, body = await _readyz(gw)
                assert status == 503
                assert body["redis"] == "down"
                assert "Redis Cluster unavailable" in body["redis_error"]
                await asyncio.to_thread(redis_cluster.wait_serving, timeout_s=30)

                async def ready() -> bool:
                    return (await _readyz(gw))[0] == 200

                await eventually(ready, "readiness once the replica serves", within=30)
                # The connection followed its user's slot to the new master.
                written: list[str] = []

                async def write() -> bool:
                    try:
                        written[:] = await gw.publish(user, 1)
                    except StoreUnavailable:  # the test's own client may need a moment, too
                        return False
                    return True

                await eventually(write, "a write to the promoted replica", within=30)
                [frame] = await stream.messages(1, within=30)
                assert frame.id == written[0]
            finally:
                await asyncio.to_thread(redis_cluster.restart, master)
                await asyncio.to_thread(redis_cluster.wait_healthy, timeout_s=60)

    asyncio.run(scenario())
