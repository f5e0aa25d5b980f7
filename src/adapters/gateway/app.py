"""The gateway's HTTP surface (SPEC §8): events, tickets, health, and the optional demo."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.gateway.auth import JwtAuthenticator
from adapters.gateway.client_js import client_routes, client_script
from adapters.gateway.demo import demo_routes
from adapters.gateway.response import SseResponse
from adapters.gateway.settings import AuthSettings, GatewaySettings
from application.gateway.ports import AuthError, GatewayTelemetry, LeaseRefused
from application.gateway.readiness import Readiness
from application.gateway.service import GatewayService
from application.ports import StoreUnavailable
from domain.gateway.credentials import Principal

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


def _history(request: Request, history_max: int) -> int:
    raw = request.query_params.get("history", "0")
    if not _HISTORY.fullmatch(raw):
        raise BadRequest("history", "history must be a non-negative integer")
    return min(int(raw), history_max)


def _session(request: Request) -> str | None:
    raw = request.query_params.get("session_id") or None
    if raw is not None and (len(raw) > _SESSION_MAX or not raw.isprintable()):
        raise BadRequest(
            "session_id", f"session_id must be at most {_SESSION_MAX} printable characters"
        )
    return raw


def _bearer(request: Request, authenticator: JwtAuthenticator, cookie: str | None) -> Principal:
    """The principal of the Authorization header, else of the configured cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("invalid_token", "use 'Authorization: Bearer <token>'")
        return authenticator.verify(token.strip())
    if cookie is not None and request.cookies.get(cookie):
        return authenticator.verify(request.cookies[cookie])
    raise AuthError("missing_token", "a bearer token, a ticket or a session cookie is required")


def _readiness_body(r: Readiness) -> dict[str, Any]:
    return {
        "status": "ready" if r.ready else "unavailable",
        "redis": "up" if r.redis else "down",
        **({"redis_error": r.redis_error} if r.redis_error is not None else {}),
        "subscription": "up" if r.subscribed else "down",
        "tasks": {name: "up" if up else "down" for name, up in r.tasks.items()},
        "draining": r.draining,
        "connections": r.connections,
    }


async def _store_unavailable(_: Request, exc: Exception) -> Response:
    # Any route: a Redis failure that escaped its handler is still a 503, never a 500.
    return _unavailable("store_unavailable", "Redis is unavailable; retry")


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's router answers an unknown path (404) and a wrong method (405, with `Allow`)
    # in plain text; they get the JSON shape of every other error.
    if not isinstance(exc, HTTPException):
        return await _internal_error(request, exc)
    headers = {name.lower(): value for name, value in (exc.headers or {}).items()}
    if exc.status_code == 404:
        return _error(404, "not_found", "not_found", "no such endpoint", **headers)
    if exc.status_code == 405:
        use = headers.get("allow", "GET")
        message = f"{request.method} is not allowed here; use {use}"
        return _error(405, "method_not_allowed", "method_not_allowed", message, **headers)
    return _error(exc.status_code, "http_error", "http_error", str(exc.detail), **headers)


async def _internal_error(_: Request, exc: Exception) -> Response:
    # A bug, not the client's fault: the JSON shape, never a traceback. Starlette re-raises
    # the exception after this response, so uvicorn logs it (once, with its traceback).
    return _error(500, "internal", "internal_error", "an internal error occurred")


def build_app(
    service: GatewayService,
    *,
    authenticator: JwtAuthenticator,
    telemetry: GatewayTelemetry,
    settings: GatewaySettings,
    auth: AuthSettings,
    extra_routes: Sequence[Any] = (),
) -> Starlette:
    """The ASGI app; the service's lifecycle (run, drain) is owned by the caller."""

    def bearer(request: Request) -> Principal:
        return _bearer(request, authenticator, auth.cookie_name)

    async def events(request: Request) -> Response:
        if service.draining:
            telemetry.rejected("draining")
            return _unavailable("draining", "this gateway is shutting down; reconnect")
        # Everything is checked before a ticket is redeemed: a refused request keeps it.
        ticket = request.query_params.get("ticket")
        try:
            history = _history(request, settings.history_max)
            session = _session(request)
            if ticket is not None:
                principal = await service.tickets.peek(ticket)
            else:
                principal = bearer(request)
            # The header wins: EventSource sends it on its own reconnects, with the old URL.
            last_id = request.headers.get("last-event-id") or request.query_params.get(
                "last_event_id"
            )
            conn = await service.open(
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
        return SseResponse(conn)

    async def tickets(request: Request) -> Response:
        try:
            ticket, ttl = await service.tickets.issue(bearer(request))
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
        failed = service.liveness()
        if failed is None:
            return JSONResponse({"status": "alive"}, headers=_NO_STORE)
        body = {"status": "failed", "task": failed.task, "error": str(failed)}
        return JSONResponse(body, status_code=503, headers=_NO_STORE)

    async def readyz(_: Request) -> Response:
        readiness = await service.readiness()
        status = 200 if readiness.ready else 503
        return JSONResponse(_readiness_body(readiness), status_code=status, headers=_NO_STORE)

    routes: list[Any] = [
        Route("/v1/events", events, methods=["GET"]),
        Route("/v1/sse-tickets", tickets, methods=["POST"]),
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *client_routes(client_script()),
    ]
    if settings.demo_enabled:
        routes += demo_routes(authenticator, settings, auth)
    routes += extra_routes
    return Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            StoreUnavailable: _store_unavailable,
            Exception: _internal_error,
        },
    )
