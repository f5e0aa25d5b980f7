"""Per-user connection limits across gateways: 429 at the limit, healing when leases expire."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from adapters.redis.leases import RedisLeases
from application.gateway.ports import LeaseRefused
from domain.gateway.leases import LeasePolicy
from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, eventually
from tests.integration.gateway.sse_client import open_stream


def test_the_limit_refuses_with_429_and_heals_when_a_dead_gateways_lease_expires(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(
        real_services, unique, gateway={"max_connections_per_user": 2, "lease_s": 30}
    )

    async def status(token: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
            return await client.get("/v1/events", headers={"authorization": f"Bearer {token}"})

    async def scenario() -> None:
        token = gw.token("u1")
        async with gw.serve():
            # A gateway that died holding a lease, never renewed. It runs for a minute, so
            # the refusal below cannot race its expiry on a slow machine; then its time is up.
            conns = gw.keys.conns("u1")
            async with gw.redis() as client:
                dead = int(time.time() * 1000) + 60_000
                await client.zadd(conns, {"dead-gateway-conn": dead})
            async with open_stream(gw.base_url, token=token):
                refused = await status(token)
                assert refused.status_code == 429
                assert 1 <= int(refused.headers["retry-after"]) <= 60
                assert refused.json()["error"] == "too_many_connections"
                async with open_stream(gw.base_url, token=gw.token("u2")):
                    pass  # other users are not affected
                async with gw.redis() as client:
                    expired = int(time.time() * 1000) - 1
                    await client.zadd(conns, {"dead-gateway-conn": expired}, xx=True)

                async def healed() -> bool:
                    return await _opens(gw.base_url, token)

                await eventually(healed, "the dead lease to expire", within=10)
            # Closing a stream gives its lease back at once.
            async with gw.redis() as client:
                await eventually(
                    lambda: _empty(client, gw.keys.conns("u1")), "leases to be released"
                )
        assert gw.telemetry.rejections["too_many_connections"] >= 1

    asyncio.run(scenario())


async def _opens(base_url: str, token: str) -> bool:
    headers = {"authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=5) as client,
        client.stream("GET", "/v1/events", headers=headers) as response,
    ):
        return response.status_code == 200


async def _empty(client: object, key: str) -> bool:
    return await client.zcard(key) == 0  # type: ignore[attr-defined,no-any-return]


def test_renewing_a_stale_snapshot_never_resurrects_a_lease_released_meanwhile(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"max_connections_per_user": 1})

    async def scenario() -> None:
        async with gw.redis() as client:
            policy = LeasePolicy(limit=1, lease_s=30)
            leases = RedisLeases(client=client, keys=gw.keys, policy=policy)
            await leases.acquire("u1", "closing-conn", now=time.time())
            await leases.acquire("u2", "live-conn", now=time.time())
            snapshot = [("u1", "closing-conn"), ("u2", "live-conn")]  # the renewal loop's list
            await leases.release("u1", "closing-conn")  # the client disconnects right then
            before = await client.zscore(gw.keys.conns("u2"), "live-conn")
            await leases.renew(snapshot, now=time.time())
            assert await client.zscore(gw.keys.conns("u1"), "closing-conn") is None
            assert await client.zscore(gw.keys.conns("u2"), "live-conn") >= before
            # Not refused for a connection that is gone; the live lease still counts.
            await leases.acquire("u1", "reconnect", now=time.time())
            with pytest.raises(LeaseRefused):
                await leases.acquire("u2", "second", now=time.time())

    asyncio.run(scenario())
