"""Helpers of the tests that run the bridge's Kafka source (`AiokafkaEventSource`) as a group
member against the real broker."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from adapters.kafka.source import AiokafkaEventSource
from eventbridge.wiring.bridge import kafka_source

started = asynccontextmanager(kafka_source)  # the bridge's own source, started and stopped


async def joined(source: AiokafkaEventSource) -> None:
    """Fetch (nothing is produced yet) until the member holds partitions (60 s deadline)."""
    async with asyncio.timeout(60):
        while not source.assignment():
            assert await source.fetch(timeout_s=0.2, max_records=10) == []


async def add_partitions(bootstrap: str, topic: str, total: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()
