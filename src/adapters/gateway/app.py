"""The gateway's HTTP surface (SPEC §8): events, tickets, health, and the optional demo."""

from __future__ import annotations

import re
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
_HISTORY = re.compile(r"[0-9]{1,9}", re.ASCII)
_SESSION_MAX = 256


class BadRequest(ValueError):
    """A query parameter the endpoint cannot accept; `param` names it (a label-safe reason)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _error(status: int, error: str, reason: str, message: str, **headers: str) -> JSONResponse:
    body = {"error": error, "reason": reason, "message": message}
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **headers})


def _unauthorized(exc: AuthError) -> JSONResponse:
    return _error(
        401, "unauthorized", exc.code, exc.message, **{"www-authenticate": 'Bearer realm="sse"'}
    )


def _unavailable(reason: str, message: str) -> JSONResponse:
    return _error(503, "unavailable", reason, message, **{"retry-after": "1"})


def _too_many(exc: LeaseRefused) -> JSONResponse:
    return _error(
        429, "too_many_connections", "limit", str(exc), **{"retry-after": str(exc.retry_after_s)}
    )


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
    if not _HISTORY.fullmatch(raw):
        raise BadRequest("history", "history must be a non-negative integer")
    return min(int(raw), gateway.settings.history_max)


def _session(request: Request) -> str | None:
    raw = request.query_params.get("session_id") or None
    if raw is not None and (len(raw) > _SESSION_MAX or not raw.isprintable()):
        raise BadRequest(
            "session_id", f"session_id must be at most {_SESSION_MAX} printable characters"
        )
    return raw


async def _store_unavailable(_: Request, exc: Exception) -> Response:
    # Any route: a Redis failure that escaped its handler is still a 503, never a 500.
    return _unavailable("store_unavailable", "Redis is unavailable; retry")


async def _internal_error(_: Request, exc: Exception) -> Response:
    # A bug, not the client's fault: the JSON shape, never a traceback. Starlette re-raises
    # the exception after this response, so uvicorn logs it (once, with its traceback).
    return _error(500, "internal", "internal_error", "an internal error occurred")


def build_app(gateway: Gateway, extra_routes: Sequence[Any] = ()) -> Starlette:
    """The ASGI app; the gateway's lifecycle (run, drain) is owned by the caller."""
    telemetry = gateway.telemetry

    async def events(request: Request) -> Response:
        if gateway.draining:
            telemetry.rejected("draining")
            return _unavailable("draining", "this gateway is shutting down; reconnect")
        # Everything is checked before a ticket is redeemed: a refused request keeps it.
        ticket = request.query_params.get("ticket")
        try:
            history = _history(request, gateway)
            session = _session(request)
            if ticket is not None:
                principal = await gateway.tickets.peek(ticket)
            else:
                principal = _bearer(request, gateway)
            # The header wins: EventSource sends it on its own reconnects, with the old URL.
            last_id = request.headers.get("last-event-id") or request.query_params.get(
                "last_event_id"
            )
            return await gateway.open(
                principal, last_event_id=last_id, history=history, session=session, ticket=ticket
            )
        except AuthError as exc:
            telemetry.rejected(exc.code)
            return _unauthorized(exc)
        except BadRequest as exc:
            telemetry.rejected("bad_request")
            return _error(400, "bad_request", exc.param, str(exc))
        except LeaseRefused as exc:
            telemetry.rejected("too_many_connections")
            return _too_many(exc)
        except StoreUnavailable:
            telemetry.rejected("store_unavailable")
            return _unavailable("store_unavailable", "Redis is unavailable; retry")

    async def tickets(request: Request) -> Response:
        try:
            principal = _bearer(request, gateway)
            # Advisory: a browser's EventSource cannot read a refused connection's status, so
            # a user at the limit hears it here; the lease taken at connect still decides.
            await gateway.leases.check(principal.user_id)
            ticket, ttl = await gateway.tickets.issue(principal)
        except AuthError as exc:
            telemetry.rejected(exc.code)
            return _unauthorized(exc)
        except LeaseRefused as exc:
            telemetry.rejected("too_many_connections")
            return _too_many(exc)
        except StoreUnavailable:
            telemetry.rejected("store_unavailable")
            return _unavailable("store_unavailable", "Redis is unavailable; retry")
        return JSONResponse({"ticket": ticket, "expires_in": ttl}, headers=_NO_STORE)

    async def livez(_: Request) -> Response:
        ok, body = gateway.liveness()
        return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)

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
    return Starlette(
        routes=routes,
        exception_handlers={StoreUnavailable: _store_unavailable, Exception: _internal_error},
    )
