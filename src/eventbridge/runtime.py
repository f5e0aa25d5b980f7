"""Process runtimes: build the container, run the services until stopped, close everything once."""

from __future__ import annotations

import asyncio
import logging

from eventbridge.container import Container
from eventbridge.settings import EventBridgeSettings

log = logging.getLogger("eventbridge")


async def run_bridge(settings: EventBridgeSettings, stop: asyncio.Event) -> None:
    """Run the bridge until `stop` is set; then stop fetching, drain, commit and close."""
    container = Container(settings=settings)
    try:
        await container.init_resources()  # type: ignore[misc]
        bridge = await container.bridge()  # type: ignore[misc]
        log.info(
            "bridge started",
            extra={"topic": settings.kafka.topic, "group": settings.kafka.group_id},
        )
        await bridge.run(stop)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
        log.info("bridge stopped")
