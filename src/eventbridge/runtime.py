"""The bridge runtime: build the container, run the bridge until stopped, close its clients once."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from adapters.redis.replication import ReplicationWatch
from application.bridge import BridgeService
from application.ports import StreamStore
from eventbridge.bridge_http import build_app, serving
from eventbridge.container import Application
from eventbridge.gc_tuning import gc_tuned
from eventbridge.health import Replication, readiness
from eventbridge.redis_eviction import EvictionWatch
from eventbridge.settings import EventBridgeSettings
from eventbridge.wiring.bridge import BridgeResource

log = logging.getLogger("eventbridge")


class _Running:
    """What /readyz looks at: nothing until the bridge is built ("starting")."""

    def __init__(self, settings: EventBridgeSettings) -> None:
        self.settings = settings
        self.bridge: BridgeService | None = None
        self.store: StreamStore | None = None
        self.eviction: EvictionWatch | None = None
        self.replication: ReplicationWatch | None = None

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        replication = None
        if self.replication is not None:
            replication = Replication(
                min_replicas=self.replication.min_replicas,
                timeout_ms=self.replication.timeout_ms,
                masters=await self.replication.masters(),
            )
        return await readiness(
            self.bridge.health() if self.bridge is not None else None,
            self.store,
            evicting=await self.eviction.evicting() if self.eviction is not None else None,
            replication=replication,
            no_assignment_grace_s=self.settings.bridge.no_assignment_grace_s,
            stall_s=self.settings.bridge.stall_s,
            service=self.settings.metrics.service_name,
        )


async def resolved(value: Any) -> Any:
    """A provider's value: dependency-injector returns awaitables for async-built objects."""
    return await value if inspect.isawaitable(value) else value


async def run_bridge(
    settings: EventBridgeSettings, stop: asyncio.Event, *, container: Application | None = None
) -> None:
    """Run the bridge until `stop` is set; then stop fetching, drain, commit and close.

    The HTTP port (/metrics, /livez, /readyz) comes up first, so a slow Kafka join is visible
    as "starting" rather than as a dead process. A `container` given by the caller (`run`)
    is shared: only the bridge's own clients are closed here, the rest by the caller.
    """
    owned = container is None
    app_container = container or Application(settings=settings, process="bridge")
    running = _Running(settings)
    try:
        telemetry = await resolved(app_container.core.telemetry_providers())
        app = build_app(
            registry=telemetry.registry,
            readiness=running.readiness,
            metrics_enabled=settings.metrics.prometheus_enabled,
        )
        async with serving(app, settings.bridge.http_host, settings.bridge.http_port):
            await resolved(app_container.init_resources(resource_type=BridgeResource))
            bridge: BridgeService = await resolved(app_container.bridge.service())
            (await resolved(app_container.bridge.telemetry())).watch(bridge.health)
            running.store = await resolved(app_container.bridge.stream_store())
            redis_client = await resolved(app_container.bridge.redis_client())
            running.eviction = EvictionWatch(redis_client, settings.redis)
            running.replication = ReplicationWatch(redis_client, settings.redis)
            running.bridge = bridge
            log.info(
                "bridge started",
                extra={"topic": settings.kafka.topic, "group": settings.kafka.group_id},
            )
            with gc_tuned():
                await bridge.run(stop)
    finally:
        await resolved(app_container.shutdown_resources(resource_type=BridgeResource))
        if owned:
            await resolved(app_container.shutdown_resources())
        log.info("bridge stopped")
