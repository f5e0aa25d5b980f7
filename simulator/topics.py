"""Blocking topic creation for scripts and fixtures, replicated to fit the cluster."""

from __future__ import annotations

import asyncio

from adapters.kafka.admin import create_topics as create_topics_async
from adapters.kafka.replication import Setting

__all__ = ["create_topics", "create_topics_async"]


def create_topics(
    bootstrap: str,
    topics: dict[str, int],
    *,
    replication_factor: Setting = "auto",
    min_insync_replicas: Setting = "auto",
    timeout_s: float = 60.0,
) -> None:
    """Create the topics that do not exist yet, waiting up to `timeout_s` for the broker:
    by default with min(3, brokers) replicas and 2 in sync when there are 3 (1 otherwise), as
    EventBridge creates its dead-letter topic."""
    asyncio.run(
        create_topics_async(
            bootstrap,
            topics,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
            timeout_s=timeout_s,
        )
    )
