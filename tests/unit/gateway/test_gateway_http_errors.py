"""Every error the gateway answers has the one JSON shape, 404 and 405 included."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from adapters.gateway.app import build_app
from adapters.gateway.auth import JwtAuthenticator
from adapters.gateway.settings import AuthSettings, GatewaySettings
from tests.gateway_over_fakes import FakeGateway

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

SECRET = "a-unit-test-secret-of-at-least-32-bytes!"


def _requests(*calls: tuple[str, str]) -> list[httpx.Response]:
    gw = FakeGateway()
    auth = AuthSettings(secret=SecretStr(SECRET))
    app = build_app(
        gw.service,
        authenticator=JwtAuthenticator(auth, clock=gw.clock),
        telemetry=gw.telemetry,
        settings=GatewaySettings(),
        auth=auth,
    )

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return [await client.request(method, path) for method, path in calls]

    return asyncio.run(send())


def test_an_unknown_path_and_a_wrong_method_get_the_json_error_shape() -> None:
    missing, wrong_method, post_events = _requests(
        ("GET", "/v1/nothing"), ("DELETE", "/readyz"), ("POST", "/v1/events")
    )
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "reason": "not_found",
        "message": "no such endpoint",
    }
    for response in (wrong_method, post_events):
        assert response.status_code == 405
        body = response.json()
        assert (body["error"], body["reason"]) == ("method_not_allowed", "method_not_allowed")
        assert "GET" in response.headers["allow"]
        assert body["message"].endswith(f"; use {response.headers['allow']}")
    for response in (missing, wrong_method):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
