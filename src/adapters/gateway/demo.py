"""The dev-only demo: a static page and a token for the demo user (off unless enabled)."""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from adapters.gateway.auth import AuthConfigError, JwtAuthenticator
from adapters.gateway.client_js import client_script
from adapters.gateway.settings import AuthSettings, GatewaySettings


def demo_page() -> str:
    return (files("adapters.gateway") / "static" / "demo.html").read_text(encoding="utf-8")


def demo_routes(
    authenticator: JwtAuthenticator, settings: GatewaySettings, auth: AuthSettings
) -> list[Route]:
    """`GET /demo` and `POST /demo/token`; refuses to start unless auth uses an HS* secret."""
    s = settings
    if not auth.algorithm.startswith("HS"):
        raise AuthConfigError("gateway.demo_enabled needs an HS* auth.secret to mint demo tokens")
    page = (
        demo_page()
        .replace("{{DEMO_USER}}", s.demo_user)
        .replace("{{CLIENT_URL}}", client_script().path)
    )

    async def demo(_: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def token(_: Request) -> Response:
        # Same-origin only by construction (POST with no CORS headers); dev use only.
        jwt = authenticator.mint(s.demo_user, s.demo_token_ttl_s)
        return JSONResponse(
            {"token": jwt, "expires_in": s.demo_token_ttl_s, "user_id": s.demo_user},
            headers={"cache-control": "no-store"},
        )

    return [Route("/demo", demo, methods=["GET"]), Route("/demo/token", token, methods=["POST"])]
