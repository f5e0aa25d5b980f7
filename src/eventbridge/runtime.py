"""Process runtimes: build the container, run the services until stopped, close everything once."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from application.bridge import BridgeService
from application.ports import StreamStore
from eventbridge.bridge_http import build_app, serving
from eventbridge.container import Container
from eventbridge.gc_tuning import gc_tuned
from eventbridge.health import readiness
from eventbridge.settings import EventBridgeSettings

log = logging.getLogger("eventbridge")


class _Running:
    """What /readyz looks at: nothing until the bridge is built ("starting")."""

    def __init__(self, settings: EventBridgeSettings) -> None:
        self.settings = settings
        self.bridge: BridgeService | None = None
        self.store: StreamStore | None = None

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        return await readiness(
            self.bridge.health() if self.bridge is not None else None,
            self.store,
            no_assignment_grace_s=self.settings.bridge.no_assignment_grace_s,
            service=self.settings.metrics.service_name,
        )


async def resolved(value: Any) -> Any:
    """A provider's value: dependency-injector returns awaitables for async-built objects."""
    return await value if inspect.isawaitable(value) else value


async def run_bridge(
    settings: EventBridgeSettings, stop: asyncio.Event, *, container: Container | None = None
) -> None:
    """Run the bridge until `stop` is set; then stop fetching, drain, commit and close.

    The HTTP port (/metrics, /livez, /readyz) comes up first, so a slow Kafka join is visible
    as "starting" rather than as a dead process.
    """
    container = container or Container(settings=settings)
    running = _Running(settings)
    try:
        telemetry = await resolved(container.telemetry_providers())
        app = build_app(
            registry=telemetry.registry,
            readiness=running.readiness,
            metrics_enabled=settings.metrics.prometheus_enabled,
        )
        async with serving(app, settings.bridge.http_host, settings.bridge.http_port):
            await resolved(container.init_resources())
            bridge: BridgeService = await resolved(container.bridge())
            (await resolved(container.telemetry())).watch(bridge.health)
            running.store = await resolved(container.stream_store())
            running.bridge = bridge
            log.info(
                "bridge started",
                extra={"topic": settings.kafka.topic, "group": settings.kafka.group_id},
            )
            with gc_tuned():
                await bridge.run(stop)
    finally:
        await resolved(container.shutdown_resources())
        log.info("bridge stopped")
