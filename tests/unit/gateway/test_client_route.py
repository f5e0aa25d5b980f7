"""The gateway serves the client package's own file at a URL naming its version, for a year."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from adapters.gateway.client_js import client_routes, client_script

pytestmark = pytest.mark.unit

CLIENT = Path(__file__).resolve().parents[3] / "clients" / "js"


def test_the_gateway_ships_the_very_file_of_the_package() -> None:
    script = client_script()
    assert script.body == (CLIENT / "eventbridge-client.js").read_bytes()
    assert script.version == json.loads((CLIENT / "package.json").read_text())["version"]


def test_the_module_is_served_at_its_versioned_url_cached_for_a_year() -> None:
    script = client_script()
    transport = httpx.ASGITransport(app=Starlette(routes=client_routes(script)))

    async def requests() -> tuple[httpx.Response, ...]:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return (
                await client.get(f"/v1/eventbridge-client-{script.version}.js"),
                await client.get("/v1/eventbridge-client-0.0.0-old.js"),
                await client.post(script.path),
            )

    response, other_version, post = asyncio.run(requests())
    assert response.status_code == 200
    assert response.content == script.body
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert other_version.status_code == 404
    assert post.status_code == 405
