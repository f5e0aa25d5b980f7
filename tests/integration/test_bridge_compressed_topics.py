"""A domain topic written with any of Kafka's codecs is read by a real bridge (gzip, lz4,
snappy, zstd: what producers commonly set). aiokafka reads lz4, snappy and zstd only with its
codec library (cramjam, pinned through aiokafka's extras); without it the bridge exits on the
first compressed batch, on every restart."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from simulator.services import Services
from simulator.verify import read_streams
from tests.integration.bridge_env import BridgeRun
from tests.integration.raw_events import command_event, event_id_of

pytestmark = pytest.mark.timeout(180)

CODECS = ("gzip", "lz4", "snappy", "zstd")


def test_batches_compressed_with_every_codec_are_delivered_once_in_order(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    session = str(uuid.uuid4())
    # A few events per codec: one producer (so one compressed batch or more) per codec.
    values = {codec: [command_event(session, "7") for _ in range(4)] for codec in CODECS}

    async def scenario() -> None:
        await run.create_topic()
        for codec, batch in values.items():
            producer = AIOKafkaProducer(
                bootstrap_servers=real_services.kafka_bootstrap,
                compression_type=codec,
                linger_ms=50,
            )
            await producer.start()
            try:
                for value in batch:
                    await producer.send(run.topic, value, key=session.encode())
                await producer.flush()
            finally:
                await producer.stop()
        await run.run_until_drained()  # fails at once if the bridge exits
        streams = await read_streams(real_services.redis_url, run.prefix)
        delivered = [e.event_id for e in streams["7"]]
        assert delivered == [event_id_of(v) for codec in CODECS for v in values[codec]]

    asyncio.run(scenario())
