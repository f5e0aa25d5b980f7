"""The browser client (clients/js) served at a URL that names its version, cached for a year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# static/eventbridge-client.js is a link to clients/js/eventbridge-client.js: one copy of the
# file, which the wheel ships as package data.
_VERSION = re.compile(rb'^export const VERSION = "([0-9A-Za-z][0-9A-Za-z.+-]{0,39})";$', re.M)
_HEADERS = {
    # The URL changes with the version, so a cached copy never needs to be checked again.
    "cache-control": "public, max-age=31536000, immutable",
    "x-content-type-options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class ClientScript:
    """The module's bytes and the version its `VERSION` constant declares."""

    version: str
    body: bytes

    @property
    def path(self) -> str:
        return f"/v1/eventbridge-client-{self.version}.js"


def client_script() -> ClientScript:
    body = (files("adapters.gateway") / "static" / "eventbridge-client.js").read_bytes()
    match = _VERSION.search(body)
    if match is None:
        raise RuntimeError("static/eventbridge-client.js declares no `export const VERSION`")
    return ClientScript(match[1].decode(), body)


def client_routes(script: ClientScript) -> list[Route]:
    """`GET /v1/eventbridge-client-<version>.js`; any other version is a 404."""

    async def serve(_: Request) -> Response:
        return Response(script.body, media_type="text/javascript", headers=_HEADERS)

    return [Route(script.path, serve, methods=["GET"])]
