"""Two real `eventbridge gateway` processes behind a real nginx: SSE frames pass unbuffered,
Last-Event-ID, Authorization and cookies reach the gateway, with one gateway SIGKILLed
every new request is still served, and a user's connection limit holds across both gateways
(the extra connection is refused whichever gateway it lands on)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.load_procs import ServiceProcess
from simulator.load_sse import open_events
from simulator.local_nginx import LocalBalancer, answered_by
from simulator.processes import free_port, release_port
from simulator.services import Services
from tests.integration.gateway.harness import SECRET, GatewayHarness
from tests.integration.gateway.sse_client import open_stream

pytestmark = pytest.mark.timeout(120)

COOKIE = "eb_session"


def _settings(gw: GatewayHarness, port: int, limit: int) -> dict[str, dict[str, Any]]:
    redis = gw.settings.redis
    return {
        "redis": {
            "url": redis.url,
            "cluster": redis.cluster,
            "sse_prefix": redis.sse_prefix,
            "session_prefix": redis.session_prefix,
            "ticket_prefix": redis.ticket_prefix,
        },
        "gateway": {
            "host": "127.0.0.1",
            "port": port,
            "heartbeat_s": 30.0,
            "max_connections_per_user": limit,
        },
        "auth": {"secret": SECRET, "cookie_name": COOKIE},
        "metrics": {"log_level": "WARNING"},
    }


class Fleet:
    """Two gateway processes sharing one Redis layout, and nginx in front of them."""

    def __init__(self, services: Services, unique: str, tmp: Path, *, limit: int = 5) -> None:
        self.harness = GatewayHarness(services, unique)  # tokens and the bridge's own writes
        self.ports = [free_port(), free_port()]
        self.gateways = [
            ServiceProcess(
                "gateway", _settings(self.harness, port, limit), tmp / f"gateway-{i}.log"
            )
            for i, port in enumerate(self.ports)
        ]
        self.addresses = [f"127.0.0.1:{p}" for p in self.ports]
        self.balancer = LocalBalancer(tmp / "nginx", self.addresses)

    def start(self) -> None:
        for gateway, port in zip(self.gateways, self.ports, strict=True):
            gateway.start()
            gateway.wait_http(f"http://127.0.0.1:{port}/livez")
        self.balancer.start()

    def close(self) -> None:
        self.balancer.close()
        for gateway in self.gateways:
            gateway.terminate(grace_s=10)
        for port in self.ports:
            release_port(port)


def _running(fleet: Fleet) -> Iterator[Fleet]:
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.close()


@pytest.fixture
def fleet(real_services: Services, unique: str, tmp_path: Path) -> Iterator[Fleet]:
    yield from _running(Fleet(real_services, unique, tmp_path))


LIMIT = 2


@pytest.fixture
def limited_fleet(real_services: Services, unique: str, tmp_path: Path) -> Iterator[Fleet]:
    yield from _running(Fleet(real_services, unique, tmp_path, limit=LIMIT))


def test_frames_pass_one_by_one_and_last_event_id_and_credentials_reach_the_gateway(
    fleet: Fleet,
) -> None:
    gw = fleet.harness

    async def scenario() -> None:
        ids = await gw.publish("u1", 3)
        headers = {"last-event-id": ids[0]}
        async with open_stream(fleet.balancer.url, token=gw.token("u1"), headers=headers) as s:
            # Resumed after the id the browser sent: the header went through.
            assert [f.id for f in await s.messages(2)] == ids[1:]
            for _ in range(3):
                # The next event is written only once the previous one arrived: a proxy that
                # held frames back until its buffer filled would time this out.
                [live] = await gw.publish("u1", 1)
                assert [f.id for f in await s.messages(1, within=10)] == [live]
        # A session cookie instead of an Authorization header is passed through too.
        cookie = {"cookie": f"{COOKIE}={gw.token('u2')}"}
        async with open_stream(fleet.balancer.url, headers=cookie) as s:
            [live] = await gw.publish("u2", 1)
            assert [f.id for f in await s.messages(1, within=10)] == [live]
        # And without credentials the gateway's own 401 comes back, not something of nginx.
        async with httpx.AsyncClient(base_url=fleet.balancer.url) as client:
            refused = await client.get("/v1/events")
        assert refused.status_code == 401
        assert refused.json()["reason"] == "missing_token"

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_with_one_gateway_killed_every_new_request_is_served_by_the_other(fleet: Fleet) -> None:
    gw = fleet.harness

    async def requests(n: int) -> list[int]:
        async with httpx.AsyncClient(base_url=fleet.balancer.url, timeout=10) as client:
            return [(await client.get("/readyz")).status_code for _ in range(n)]

    assert asyncio.run(requests(6)) == [200] * 6
    assert set(fleet.balancer.served_by()) == {f"127.0.0.1:{p}" for p in fleet.ports}
    fleet.gateways[0].kill()
    before = fleet.balancer.served_by()

    async def after_the_kill() -> list[int]:
        statuses = await requests(10)
        async with open_stream(fleet.balancer.url, token=gw.token("u1")) as s:
            [live] = await gw.publish("u1", 1)
            assert [f.id for f in await s.messages(1, within=10)] == [live]
        return statuses

    assert asyncio.run(asyncio.wait_for(after_the_kill(), 60)) == [200] * 10
    served = fleet.balancer.served_by() - before
    assert set(served) == {f"127.0.0.1:{fleet.ports[1]}"}


def test_a_users_connection_limit_holds_across_gateways_whichever_one_the_extra_lands_on(
    limited_fleet: Fleet,
) -> None:
    gw, url = limited_fleet.harness, limited_fleet.balancer.url
    token = gw.token("u1")

    async def scenario() -> tuple[list[str | None], list[tuple[int, str | None, bool]]]:
        async with contextlib.AsyncExitStack() as held:
            landed = []
            for _ in range(LIMIT):  # u1's allowance, each stream held open
                status, headers, _ = await held.enter_async_context(open_events(url, token))
                assert status == 200
                landed.append(answered_by(headers))
            refused: list[tuple[int, str | None, bool]] = []
            # Round robin spreads the extra attempts over both gateways; try until each had
            # (at least) one, a few times over.
            while {g for _, g, _ in refused} != set(limited_fleet.addresses) and len(refused) < 8:
                async with open_events(url, token) as (status, headers, _):
                    refused.append((status, answered_by(headers), "retry-after" in headers))
            # Another user is not held to u1's limit.
            async with open_events(url, gw.token("u2")) as (status, _, _):
                assert status == 200
            return landed, refused

    landed, refused = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert set(landed) <= set(limited_fleet.addresses)
    assert {status for status, _, _ in refused} == {429}, refused
    assert all(retry for _, _, retry in refused), refused
    # Both gateways refused it: each counted the leases the other one holds.
    assert {g for _, g, _ in refused} == set(limited_fleet.addresses), refused
