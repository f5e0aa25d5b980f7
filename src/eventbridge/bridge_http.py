"""The bridge's own small HTTP port: /metrics (Prometheus), /livez and /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.telemetry.prometheus import metrics_endpoint
from eventbridge.listen import listening_socket

log = logging.getLogger("eventbridge.http")

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
_NO_STORE = {"Cache-Control": "no-store"}


def build_app(
    *, registry: CollectorRegistry, readiness: Readiness, metrics_enabled: bool = True
) -> Starlette:
    async def livez(_: Request) -> Response:
        return JSONResponse({"status": "alive"}, headers=_NO_STORE)

    async def readyz(_: Request) -> Response:
        ok, body = await readiness()
        return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)

    routes = [Route("/livez", livez, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
    if metrics_enabled:
        routes.append(Route("/metrics", metrics_endpoint(registry), methods=["GET"]))
    return Starlette(routes=routes)


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the CLI owns SIGTERM/SIGINT through `stop`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


@contextlib.asynccontextmanager
async def serving(
    app: Starlette,
    host: str,
    port: int,
    *,
    keys: tuple[tuple[str, str], tuple[str, str]] = (
        ("bridge", "http_host"),
        ("bridge", "http_port"),
    ),
    name: str = "bridge http",
) -> AsyncIterator[int]:
    """Serve `app` on host:port (0 = any free port) while inside; yields the bound port. A port
    that cannot be bound is a SettingsError naming `keys` (the host's, the port's setting)."""
    sock = listening_socket(host, port, host_key=keys[0], port_key=keys[1], backlog=128)
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, http="h11", lifespan="off", access_log=False, log_config=None, ws="none"
    )
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        up = asyncio.ensure_future(server.up.wait())
        await asyncio.wait({up, task}, return_when=asyncio.FIRST_COMPLETED)
        up.cancel()
        if task.done():
            await task
            raise RuntimeError(f"the {name} server stopped while starting")
        log.info(f"{name} listening", extra={"host": host, "port": bound})
        yield bound
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 5.0)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        sock.close()
