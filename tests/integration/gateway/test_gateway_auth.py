"""Authentication of the SSE endpoint: JWT, single-use tickets, cookies, refused expired tokens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, eventually
from tests.integration.gateway.sse_client import open_stream


async def _get(gw: GatewayHarness, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        return await client.get("/v1/events", **kwargs)


async def _ticket(gw: GatewayHarness, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        response = await client.post(
            "/v1/sse-tickets", headers={"authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_missing_expired_forged_wrong_audience_and_bad_user_tokens_get_401_with_a_reason(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, auth={"audience": "sse", "issuer": "genesis"})

    def bearer(token: str) -> dict[str, dict[str, str]]:
        return {"headers": {"authorization": f"Bearer {token}"}}

    async def scenario() -> None:
        good: dict[str, Any] = {"aud": "sse", "iss": "genesis"}
        cases = {
            "missing_token": {},
            "expired_token": bearer(gw.token("u1", ttl_s=-5, **good)),
            "invalid_token": bearer(gw.token("u1", key="forged-" + "k" * 40, **good)),
            "invalid_audience": bearer(gw.token("u1", aud="other", iss="genesis")),
            "invalid_issuer": bearer(gw.token("u1", aud="sse", iss="elsewhere")),
            "invalid_user": bearer(gw.token("u{1}", **good)),
            "invalid_ticket": {"params": {"ticket": "x" * 43}},
        }
        async with gw.serve():
            for reason, kwargs in cases.items():
                response = await _get(gw, **kwargs)
                assert response.status_code == 401, reason
                assert response.json()["reason"] == reason
                assert response.json()["error"] == "unauthorized"
            async with open_stream(gw.base_url, token=gw.token("u1", **good)) as stream:
                assert (await stream.next()).retry is not None
        assert gw.telemetry.rejections["expired_token"] == 1

    asyncio.run(scenario())


def test_a_ticket_opens_one_stream_once(real_services: Services, unique: str) -> None:
    # Its expiry with the token, and the stream's end at `exp`, are rules tested over the fake
    # clock (tests/unit/gateway/test_gateway_expiry_over_fakes.py); the curl examples of
    # docs/browser.md (test_doc_examples.py) see a real stream end at a real token's expiry.
    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        async with gw.serve():
            async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
                refused = await client.post("/v1/sse-tickets")
            assert refused.status_code == 401
            issued = await _ticket(gw, gw.token("u1"))
            assert 0 < issued["expires_in"] <= 30
            params = {"ticket": issued["ticket"]}
            async with open_stream(gw.base_url, params=params) as stream:
                ids = await gw.publish("u1", 2)
                assert [f.id for f in await stream.messages(2)] == ids
                again = await _get(gw, params=params)
                assert again.status_code == 401
                assert again.json()["reason"] == "invalid_ticket"
            short = await _ticket(gw, gw.token("u1", ttl_s=2))
            assert short["expires_in"] <= 2  # a ticket never outlives its token

    asyncio.run(scenario())


def test_a_session_cookie_authenticates_when_configured(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, auth={"cookie_name": "eb_session"})

    async def scenario() -> None:
        async with gw.serve():
            headers = {"cookie": f"eb_session={gw.token('u1')}"}
            async with open_stream(gw.base_url, headers=headers) as stream:
                ids = await gw.publish("u1", 1)
                assert [f.id for f in await stream.messages(1)] == ids

    asyncio.run(scenario())


def test_a_token_past_exp_is_refused_even_within_the_leeway_and_is_sent_nothing(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, auth={"leeway_s": 60})

    async def scenario() -> None:
        async with gw.serve(), httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
            await gw.publish("u1", 3)
            expired = {"authorization": f"Bearer {gw.token('u1', ttl_s=-5)}"}
            stream = await client.get("/v1/events", params={"history": "3"}, headers=expired)
            ticket = await client.post("/v1/sse-tickets", headers=expired)
            # The leeway still covers clock skew on `iat`: a token "issued" 30 s ahead is fine.
            skewed = gw.token("u1", iat=int(time.time()) + 30)
            async with open_stream(gw.base_url, token=skewed, params={"history": "1"}) as ok:
                assert len(await ok.messages(1)) == 1
        for response in (stream, ticket):
            assert response.status_code == 401
            assert response.json()["reason"] == "expired_token"
            assert "data:" not in response.text
        assert gw.telemetry.sent_total == 1

    asyncio.run(scenario())


def test_a_request_refused_with_400_keeps_its_ticket_usable(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        async with gw.serve():
            ticket = (await _ticket(gw, gw.token("u1")))["ticket"]
            bad = [{"history": "lots"}, {"history": "\u0661"}, {"session_id": "s" * 300}]
            for params in bad:
                response = await _get(gw, params={"ticket": ticket, **params})
                assert response.status_code == 400, params
                assert response.json()["error"] == "bad_request"
            async with open_stream(gw.base_url, params={"ticket": ticket}) as stream:
                assert (await stream.next()).retry is not None
            assert (await _get(gw, params={"ticket": ticket})).status_code == 401  # used now

    asyncio.run(scenario())


def test_a_stream_refused_with_429_keeps_its_ticket_for_a_retry(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"max_connections_per_user": 1})

    async def scenario() -> None:
        async with gw.serve():
            ticket = (await _ticket(gw, gw.token("u1")))["ticket"]
            async with open_stream(gw.base_url, token=gw.token("u1")) as first:
                await first.next()
                refused = await _get(gw, params={"ticket": ticket})
                assert refused.status_code == 429
                assert int(refused.headers["retry-after"]) >= 1
            async with open_stream(gw.base_url, params={"ticket": ticket}) as retried:
                assert (await retried.next()).retry is not None
            async with gw.redis() as client:
                assert await client.zcard(gw.keys.conns("u1")) == 0  # nothing leaked

    asyncio.run(scenario())


def test_a_ticket_is_refused_with_429_and_retry_after_while_the_user_is_at_the_limit(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"max_connections_per_user": 1})

    async def scenario() -> None:
        async with gw.serve():
            headers = {"authorization": f"Bearer {gw.token('u1')}"}
            async with (
                open_stream(gw.base_url, token=gw.token("u1")) as stream,
                httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client,
            ):
                await stream.next()
                refused = await client.post("/v1/sse-tickets", headers=headers)
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["retry-after"]) <= 45  # the lease's lifetime
            assert refused.json()["error"] == "too_many_connections"
            await _ticket(gw, gw.token("u1"))  # the stream closed: a ticket again
        assert gw.telemetry.rejections["too_many_connections"] == 1

    asyncio.run(scenario())


def test_requests_racing_for_one_ticket_open_exactly_one_stream_and_leak_no_lease(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"max_connections_per_user": 10})

    async def attempt(client: httpx.AsyncClient, ticket: str) -> int:
        async with client.stream("GET", "/v1/events", params={"ticket": ticket}) as response:
            return response.status_code

    async def scenario() -> None:
        async with gw.serve(), httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
            ticket = (await _ticket(gw, gw.token("u1")))["ticket"]
            statuses = await asyncio.gather(*(attempt(client, ticket) for _ in range(8)))
            assert sorted(statuses) == [200] + [401] * 7
            async with gw.redis() as redis:

                async def released() -> bool:
                    return await redis.zcard(gw.keys.conns("u1")) == 0

                await eventually(released, "every lease to be given back")

    asyncio.run(scenario())
