"""Library errors and hostile notifications, through a real gateway: 503 JSON, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import httpx

from adapters.gateway.auth import RedisTickets
from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, get
from tests.integration.gateway.sse_client import open_stream


def _is_unavailable_json(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers["content-type"].startswith("application/json")
        and "Traceback" not in response.text
    )


def test_a_gateway_whose_redis_is_no_cluster_answers_503_json_and_never_500(
    real_services: Services, unique: str
) -> None:
    # redis-py's Cluster client raises RedisClusterException, which is not a RedisError.
    gw = GatewayHarness(real_services, unique, redis={"cluster": True, "connect_timeout_s": 0.5})

    async def scenario() -> None:
        bearer = {"authorization": f"Bearer {gw.token('u1')}"}
        async with gw.serve(), httpx.AsyncClient(base_url=gw.base_url, timeout=10) as client:
            responses = {
                "ticket": await client.post("/v1/sse-tickets", headers=bearer),
                "events": await client.get("/v1/events", headers=bearer),
                "ticket stream": await client.get("/v1/events", params={"ticket": "t" * 43}),
                "readyz": await client.get("/readyz"),
            }
        for name, response in responses.items():
            assert _is_unavailable_json(response), (name, response.status_code, response.text)
        assert responses["ticket"].json()["reason"] == "store_unavailable"
        assert responses["events"].json()["reason"] == "store_unavailable"
        assert responses["readyz"].json()["redis"] == "down"

    asyncio.run(scenario())


def test_a_bug_in_a_request_answers_a_json_500_without_a_traceback(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique)

    async def a_bug(*_: Any) -> None:
        raise KeyError("injected: a bug while issuing a ticket")

    async def scenario() -> httpx.Response:
        async with gw.serve(), httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
            headers = {"authorization": f"Bearer {gw.token('u1')}"}
            return await client.post("/v1/sse-tickets", headers=headers)

    with mock.patch.object(RedisTickets, "issue", a_bug):
        response = asyncio.run(scenario())
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "reason": "internal_error",
        "message": "an internal error occurred",
    }
    assert "injected" not in response.text


def test_a_notification_on_a_channel_that_is_not_utf8_does_not_stop_live_delivery(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"heartbeat_s": 30})

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            await stream.next()  # retry: the connection is registered
            async with gw.redis() as client:
                hostile = gw.settings.redis.sse_prefix.encode() + b"{\xff\xfe}:notify"
                assert await client.publish(hostile, b"x") == 1  # the gateway's subscription
            ids = await gw.publish("u1", 2)  # heartbeats are 30 s away: only live delivery
            assert [f.id for f in await stream.messages(2, within=10)] == ids
            assert (await get(gw, "/readyz")).status_code == 200

    asyncio.run(scenario())
