"""The Prometheus text exposition of a process's registry, and a Starlette `/metrics` route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.telemetry.setup import TelemetryProviders


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The current metrics as Prometheus text, and its content type.

    Collecting runs the observable-gauge callbacks, so call it on the event loop's thread:
    the callbacks read the bridge's state without locks.
    """
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for `Route("/metrics", metrics_endpoint(registry))`."""

    async def metrics(_: Request) -> Response:
        body, content_type = exposition(registry)
        return Response(body, media_type=content_type)

    return metrics


def metrics_routes(telemetry: TelemetryProviders, enabled: bool) -> list[Route]:
    """`GET /metrics` of the process's registry, unless Prometheus is turned off."""
    if not enabled:
        return []
    return [Route("/metrics", metrics_endpoint(telemetry.registry), methods=["GET"])]
