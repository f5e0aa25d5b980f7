"""The gateway's HTTP surface (SPEC §8): events, tickets, health, and the optional demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.gateway.auth import AuthError, Principal
from adapters.gateway.client_js import client_routes, client_script
from adapters.gateway.demo import demo_routes
from adapters.gateway.gateway import Gateway
from adapters.gateway.limits import LeaseRefused
from application.ports import StoreUnavailable

_NO_STORE = {"cache-control": "no-store"}


def _error(status: int, error: str, reason: str, message: str, **headers: str) -> JSONResponse:
    body = {"error": error, "reason": reason, "message": message}
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **headers})


def _unauthorized(exc: AuthError) -> JSONResponse:
    return _error(
        401, "unauthorized", exc.code, exc.message, **{"www-authenticate": 'Bearer realm="sse"'}
    )


def _unavailable(reason: str, message: str) -> JSONResponse:
    return _error(503, "unavailable", reason, message, **{"retry-after": "1"})


def _bearer(request: Request, gateway: Gateway) -> Principal:
    """The principal of the Authorization header, else of the configured cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("invalid_token", "use 'Authorization: Bearer <token>'")
        return gateway.auth.verify(token.strip())
    cookie = gateway.auth_settings.cookie_name
    if cookie is not None and request.cookies.get(cookie):
        return gateway.auth.verify(request.cookies[cookie])
    raise AuthError("missing_token", "a bearer token, a ticket or a session cookie is required")


def _history(request: Request, gateway: Gateway) -> int:
    raw = request.query_params.get("history", "0")
    if not raw.isdigit():
        raise ValueError("history must be a non-negative integer")
    return min(int(raw), gateway.settings.history_max)


def build_app(gateway: Gateway, extra_routes: Sequence[Any] = ()) -> Starlette:
    """The ASGI app; the gateway's lifecycle (run, drain) is owned by the caller."""
    telemetry = gateway.telemetry

    async def events(request: Request) -> Response:
        if gateway.draining:
            telemetry.rejected("draining")
            return _unavailable("draining", "this gateway is shutting down; reconnect")
        try:
            ticket = request.query_params.get("ticket")
            if ticket is not None:
                principal = await gateway.tickets.consume(ticket)
            else:
                principal = _bearer(request, gateway)
            history = _history(request, gateway)
        except AuthError as exc:
            telemetry.rejected(exc.code)
            return _unauthorized(exc)
        except ValueError as exc:
            telemetry.rejected("bad_request")
            return _error(400, "bad_request", "history", str(exc))
        except StoreUnavailable:
            telemetry.rejected("store_unavailable")
            return _unavailable("store_unavailable", "Redis is unavailable; retry")
        # The header wins: EventSource sends it on its own reconnects, with the old URL.
        last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        session = request.query_params.get("session_id") or None
        try:
            return await gateway.open(
                principal, last_event_id=last_id, history=history, session=session
            )
        except LeaseRefused as exc:
            telemetry.rejected("too_many_connections")
            return _error(
                429,
                "too_many_connections",
                "limit",
                str(exc),
                **{"retry-after": str(exc.retry_after_s)},
            )
        except StoreUnavailable:
            telemetry.rejected("store_unavailable")
            return _unavailable("store_unavailable", "Redis is unavailable; retry")

    async def tickets(request: Request) -> Response:
        try:
            principal = _bearer(request, gateway)
            ticket, ttl = await gateway.tickets.issue(principal)
        except AuthError as exc:
            telemetry.rejected(exc.code)
            return _unauthorized(exc)
        except StoreUnavailable:
            return _unavailable("store_unavailable", "Redis is unavailable; retry")
        return JSONResponse({"ticket": ticket, "expires_in": ttl}, headers=_NO_STORE)

    async def livez(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> Response:
        ok, body = await gateway.readiness()
        return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)

    routes: list[Any] = [
        Route("/v1/events", events, methods=["GET"]),
        Route("/v1/sse-tickets", tickets, methods=["POST"]),
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *client_routes(client_script()),
    ]
    if gateway.settings.demo_enabled:
        routes += demo_routes(gateway)
    routes += extra_routes
    return Starlette(routes=routes)
