"""Gateway runtimes: the SSE gateway under uvicorn, and bridge + gateway in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import uvicorn
from dependency_injector import providers
from starlette.applications import Starlette

from adapters.telemetry.prometheus import metrics_routes
from application.cancelling import cancel_and_wait
from application.gateway.ports import GatewayTelemetry
from application.gateway.service import GatewayService
from eventbridge.bridge_http import QuietServer as _Server
from eventbridge.bridge_http import serving
from eventbridge.container import Application
from eventbridge.gc_tuning import gc_tuned
from eventbridge.listen import listening_socket
from eventbridge.runtime import resolved, run_bridge
from eventbridge.settings import EventBridgeSettings, require_serving
from eventbridge.wiring.gateway import GatewayResource

log = logging.getLogger("eventbridge.gateway")
_CUT_OFF = "ASGI callable returned without completing response."


class _CutOffFilter(logging.Filter):
    # A stalled client is cut off by returning mid-stream on purpose: uvicorn then closes the
    # socket and would log it as an application error. It is counted as `slow_client` instead.
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT_OFF


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
    container: Application | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve the gateway the container builds until `stop` is set; then refuse new streams,
    end the open ones so clients reconnect elsewhere, stop uvicorn and close the gateway's
    Redis clients. `ready` is set once listening; `telemetry` replaces the OpenTelemetry one
    (tests); a `container` given by the caller (`run`) is shared, its Core closed by it, and
    so is the listening `sock` it bound (closed here).

    If a background loop keeps dying (TaskFailed), the gateway drains the same way and raises
    it, so the process exits non-zero instead of serving streams that no longer go live.
    A missing key or a port that cannot be bound is a SettingsError, before anything starts.
    """
    require_serving(settings, "gateway")
    owned = container is None
    app_container = container or Application(settings=settings, process="gateway")
    if telemetry is not None:
        app_container.gateway.telemetry.override(providers.Object(telemetry))
    g = settings.gateway
    sock = sock or _public_socket(settings)
    try:
        async with _metrics_listener(settings, app_container):
            service: GatewayService = await resolved(app_container.gateway.service())
            config = uvicorn.Config(
                await resolved(app_container.gateway.app()),
                http="httptools",  # a fraction of h11's Python per SSE write (docs/benchmarks.md)
                lifespan="off",
                access_log=False,  # query strings may carry a ticket: never logged
                log_config=None,
                timeout_graceful_shutdown=max(1, int(g.drain_s) + 1),
            )
            await _serve(_Server(config), sock, service, stop, ready)
    finally:
        sock.close()
        await resolved(app_container.shutdown_resources(resource_type=GatewayResource))
        if owned:
            await resolved(app_container.shutdown_resources())
        log.info("gateway stopped")


def _public_socket(settings: EventBridgeSettings) -> socket.socket:
    g = settings.gateway
    return listening_socket(
        g.host, g.port, host_key=("gateway", "host"), port_key=("gateway", "port"), backlog=4096
    )


@contextlib.asynccontextmanager
async def _metrics_listener(
    settings: EventBridgeSettings, container: Application
) -> AsyncIterator[None]:
    """`/metrics` on a listener of its own when `metrics.gateway_port` is set (then the public
    port does not serve it: see README, "Metrics on the gateway")."""
    m = settings.metrics
    if not m.prometheus_enabled or m.gateway_port is None:
        yield
        return
    telemetry = await resolved(container.core.telemetry_providers())
    app = Starlette(routes=metrics_routes(telemetry, enabled=True))
    keys = (("gateway", "host"), ("metrics", "gateway_port"))
    async with serving(
        app, settings.gateway.host, m.gateway_port, keys=keys, name="gateway metrics"
    ):
        yield


async def _serve(
    server: _Server,
    sock: socket.socket,
    service: GatewayService,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
) -> None:
    """uvicorn and the service's background loops until `stop` (or a loop gives up); drain."""
    background = asyncio.create_task(service.run())
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
            await service.drain()
            server.should_exit = True
            await serving
            if background.done():
                background.result()  # raises TaskFailed: the process must not limp on
    finally:
        server.should_exit = True
        await cancel_and_wait((serving, background))


async def _first(waiting: Coroutine[Any, Any, Any], *tasks: asyncio.Task[None]) -> None:
    """Wait for `waiting` or for one of `tasks` to finish, whichever is first."""
    waiter = asyncio.ensure_future(waiting)
    try:
        await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)


async def run_all(settings: EventBridgeSettings, stop: asyncio.Event) -> None:
    """Bridge and gateway in one process, from one container: they share its Core (one set of
    telemetry providers, so one `/metrics` family per metric, served on both ports) and keep
    their own Redis clients (the gateway's pool waits, the bridge's fails fast for its
    breaker). Either one ending stops the other gracefully; Core is closed once, last."""
    require_serving(settings, "run")
    # Bound before either starts: a busy gateway port must not leave a bridge starting (and,
    # with Kafka unreachable, deaf to `stop` until its connect times out).
    sock = _public_socket(settings)
    container = Application(settings=settings, process="run")

    async def until_done(service: Coroutine[Any, Any, None]) -> None:
        try:
            await service
        finally:
            stop.set()

    try:
        results = await asyncio.gather(
            until_done(run_bridge(settings, stop, container=container)),
            until_done(run_gateway(settings, stop, container=container, sock=sock)),
            return_exceptions=True,
        )
    finally:
        await resolved(container.shutdown_resources())
    for result in results:
        if isinstance(result, BaseException):
            raise result
