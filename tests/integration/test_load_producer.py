"""The load runner's Kafka side: each record's hand-over and acknowledgement are both stamped
(the sweep's "produce → Kafka ack"), and a warm-up passes its records through the broker."""

from __future__ import annotations

import asyncio

from simulator.genesis import generate_n
from simulator.kafka_warmup import warm_kafka
from simulator.produce import produce_paced
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import group_backlog, read_topic


def test_every_record_handed_over_is_stamped_again_when_kafka_acknowledges_it(
    real_services: Services, unique: str
) -> None:
    bootstrap, topic = real_services.kafka_bootstrap, f"paced-{unique}"
    records = generate_n(20, seed=3, users=3, bad_ratio=0.0)
    sent: list[tuple[str, float]] = []
    acked: list[tuple[str, float]] = []

    async def scenario() -> int:
        await create_topics_async(bootstrap, {topic: 2})
        return await produce_paced(bootstrap, topic, records, on_send=[sent], on_ack=[acked])

    assert asyncio.run(scenario()) == 20
    ids = [r.expect.event_id or "" for r in records]
    assert [e for e, _ in sent] == ids
    assert sorted(e for e, _ in acked) == sorted(ids)  # each once: every send was answered
    handed_over = dict(sent)
    assert all(at >= handed_over[e] for e, at in acked)
    assert len(asyncio.run(read_topic(bootstrap, topic))) == 20


def test_a_warm_up_passes_its_records_through_the_broker_and_commits_them(
    real_services: Services,
) -> None:
    bootstrap = real_services.kafka_bootstrap

    async def scenario() -> int:
        warmed = await warm_kafka(bootstrap, records=500, partitions=2, timeout_s=120)
        assert warmed.seconds > 0
        assert len(await read_topic(bootstrap, warmed.topic)) == 500
        return await group_backlog(bootstrap, warmed.topic, warmed.topic)

    assert asyncio.run(scenario()) == 0
