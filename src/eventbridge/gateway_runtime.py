"""Gateway runtimes: the SSE gateway under uvicorn, and bridge + gateway in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Coroutine, Iterator
from typing import Any

import uvicorn
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.routing import Route

from adapters.gateway.app import build_app
from adapters.gateway.gateway import Gateway
from adapters.gateway.hub import make_pubsub_client
from adapters.gateway.telemetry import GatewayTelemetry
from adapters.redis.client import make_client
from adapters.redis.settings import RedisSettings
from adapters.telemetry.gateway import OtelGatewayTelemetry
from adapters.telemetry.prometheus import metrics_endpoint
from adapters.telemetry.setup import build_providers
from eventbridge.bridge_http import QuietServer as _Server
from eventbridge.gc_tuning import gc_tuned
from eventbridge.runtime import run_bridge
from eventbridge.settings import EventBridgeSettings

log = logging.getLogger("eventbridge.gateway")
_CUT_OFF = "ASGI callable returned without completing response."


class _CutOffFilter(logging.Filter):
    # A stalled client is cut off by returning mid-stream on purpose: uvicorn then closes the
    # socket and would log it as an application error. It is counted as `slow_client` instead.
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT_OFF


def _gateway_client(settings: RedisSettings) -> Any:
    """Like the bridge's client, but a burst (thousands of connections re-reading after a
    resubscription) waits for a pooled connection instead of failing with "Too many"."""
    if settings.cluster:
        return make_client(settings)
    pool = BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        timeout=10,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.connect_timeout_s,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


@contextlib.contextmanager
def _quiet_cut_offs() -> Iterator[None]:
    logger, flt = logging.getLogger("uvicorn.error"), _CutOffFilter()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


async def run_gateway(
    settings: EventBridgeSettings,
    stop: asyncio.Event,
    *,
    ready: asyncio.Event | None = None,
    telemetry: GatewayTelemetry | None = None,
) -> None:
    """Serve the gateway until `stop` is set; then refuse new streams, end the open ones so
    clients reconnect elsewhere, stop uvicorn and close Redis. `ready` is set once listening.

    If a background loop keeps dying (TaskFailed), the gateway drains the same way and raises
    it, so the process exits non-zero instead of serving streams that no longer go live.
    """
    g = settings.gateway
    # Bind first, so a busy port is an OSError here rather than uvicorn's sys.exit.
    sock = socket.create_server((g.host, g.port), backlog=4096)
    client = _gateway_client(settings.redis)
    extra_routes: list[Any] = []
    async with contextlib.AsyncExitStack() as resources:
        resources.push_async_callback(client.aclose)
        if telemetry is None:
            # Production: OpenTelemetry meters exposed on this process's own /metrics.
            m = settings.metrics
            providers = build_providers(
                service_name=f"{m.service_name}-gateway",
                sample_ratio=m.trace_sample_ratio,
                otlp_endpoint=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            )
            resources.callback(providers.shutdown)
            telemetry = OtelGatewayTelemetry(
                meter=providers.meter_provider.get_meter("eventbridge.gateway")
            )
            if m.prometheus_enabled:
                extra_routes.append(
                    Route("/metrics", metrics_endpoint(providers.registry), methods=["GET"])
                )
        pubsub_client = make_pubsub_client(settings.redis)
        gateway = Gateway(
            client=client,
            pubsub_client=pubsub_client,
            settings=g,
            auth=settings.auth,
            redis=settings.redis,
            telemetry=telemetry,
        )
        config = uvicorn.Config(
            build_app(gateway, extra_routes),
            http="h11",
            lifespan="off",
            access_log=False,  # query strings may carry a ticket: never logged
            log_config=None,
            timeout_graceful_shutdown=max(1, int(g.drain_s) + 1),
        )
        server = _Server(config)
        background = asyncio.create_task(gateway.run())
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            with _quiet_cut_offs(), gc_tuned():
                await _first(server.up.wait(), serving)
                if serving.done():
                    await serving
                    raise RuntimeError("the gateway stopped while starting")
                host, port = sock.getsockname()[:2]
                log.info("gateway listening", extra={"host": host, "port": port})
                if ready is not None:
                    ready.set()
                await _first(stop.wait(), serving, background)
                await gateway.drain()
                server.should_exit = True
                await serving
                if background.done():
                    background.result()  # raises TaskFailed: the process must not limp on
        finally:
            server.should_exit = True
            for task in (serving, background):
                task.cancel()
            await asyncio.gather(serving, background, return_exceptions=True)
            await pubsub_client.aclose()
            sock.close()
            log.info("gateway stopped")


async def _first(waiting: Coroutine[Any, Any, Any], *tasks: asyncio.Task[None]) -> None:
    """Wait for `waiting` or for one of `tasks` to finish, whichever is first."""
    waiter = asyncio.ensure_future(waiting)
    try:
        await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)


async def run_all(settings: EventBridgeSettings, stop: asyncio.Event) -> None:
    """Bridge and gateway in one process; either one ending stops the other gracefully."""

    async def until_done(service: Coroutine[Any, Any, None]) -> None:
        try:
            await service
        finally:
            stop.set()

    results = await asyncio.gather(
        until_done(run_bridge(settings, stop)),
        until_done(run_gateway(settings, stop)),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
