"""A static member the broker fences (FENCED_INSTANCE_ID, error 82) stops naming the setting.

Another consumer joined with the same group.instance.id and took over its member id. When the
old member next sends a JoinGroup or SyncGroup under its old member id, before its own
heartbeat learnt of the takeover, the broker answers 82. aiokafka 0.14 knows no such code and
raised a bare `KafkaError: UnknownError()`, and the bridge stopped with that instead of naming
the setting (seen in the soak, `test_static_membership`, under load).

Here the old member's heartbeat is 20 s apart, so it does not come before the JoinGroup that
new partitions make it send: the broker fences it. Should a heartbeat come first on a very
slow machine, the member is dropped the other way (a new member id at its next join), and
the same message is asserted, so the test does not fail by chance either way."""

from __future__ import annotations

import asyncio

import pytest

from adapters.kafka.settings import KafkaSettings
from adapters.kafka.source import AiokafkaEventSource
from application.ports import SourceUnavailable
from simulator.services import Services
from simulator.topics import create_topics_async
from tests.integration.kafka_members import add_partitions, joined, started

pytestmark = pytest.mark.timeout(180)


def twin_settings(services: Services, unique: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=services.kafka_bootstrap,
        topic=f"fenced-{unique}",
        group_id=f"g-{unique}",
        group_instance_id=f"twin-{unique}",
        session_timeout_ms=60_000,
        heartbeat_interval_ms=20_000,
        metadata_max_age_ms=1000,  # the new partitions are seen, and a rejoin sent, within 1 s
    )


async def stopped(source: AiokafkaEventSource) -> SourceUnavailable:
    async with asyncio.timeout(60):
        while True:
            try:
                await source.fetch(timeout_s=0.2, max_records=10)
            except SourceUnavailable as exc:
                return exc


def test_a_static_member_fenced_by_its_twin_stops_naming_the_setting(
    real_services: Services, unique: str
) -> None:
    settings = twin_settings(real_services, unique)

    async def scenario() -> None:
        await create_topics_async(settings.bootstrap_servers, {settings.topic: 1})
        async with started(settings) as old:
            await joined(old)
            async with started(settings) as twin:
                await joined(twin)  # it took over the instance id
                await add_partitions(settings.bootstrap_servers, settings.topic, 2)
                error = await stopped(old)
                assert f"group.instance.id 'twin-{unique}' was taken over" in str(error)
                assert "kafka.instance_ordinal" in str(error)
                assert error.retriable is False
                # Once stopped, it stays stopped: it does not rejoin and fence its twin back.
                with pytest.raises(SourceUnavailable, match="was taken over"):
                    await old.fetch(timeout_s=0.2, max_records=10)

    asyncio.run(scenario())
