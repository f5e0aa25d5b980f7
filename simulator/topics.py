"""Blocking topic creation for scripts and fixtures."""

from __future__ import annotations

import asyncio

from adapters.kafka.admin import create_topics as create_topics_async

__all__ = ["create_topics", "create_topics_async"]


def create_topics(bootstrap: str, topics: dict[str, int], *, timeout_s: float = 60.0) -> None:
    """Create the topics that do not exist yet, waiting up to `timeout_s` for the broker."""
    asyncio.run(create_topics_async(bootstrap, topics, timeout_s=timeout_s))
