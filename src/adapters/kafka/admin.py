"""Topic creation and description through aiokafka's admin client; errors translated."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from adapters.kafka.errors import kafka_errors
from adapters.kafka.replication import Replication, ReplicationError, Setting, replication_for
from application.ports import PortError

log = logging.getLogger("eventbridge.kafka.admin")


class KafkaAdminError(PortError):
    """The cluster could not be asked, or refused, what the admin client wanted."""


async def create_topics(
    bootstrap: str,
    topics: dict[str, int],
    *,
    replication_factor: Setting = "auto",
    min_insync_replicas: Setting = "auto",
    timeout_s: float = 60.0,
) -> None:
    """Create each topic with its partition count, replicated as `replication_for` decides
    from the live brokers; existing topics are left as they are (a warning says when one has
    fewer replicas than asked for)."""
    deadline = time.monotonic() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            with kafka_errors(KafkaAdminError, "cannot create topics"):
                await admin.start()
                brokers = len((await admin.describe_cluster())["brokers"])
                try:
                    wanted = replication_for(brokers, replication_factor, min_insync_replicas)
                except ReplicationError as exc:
                    raise KafkaAdminError(str(exc), retriable=False) from exc
                existing = set(await admin.list_topics())
                await _create(admin, {t: n for t, n in topics.items() if t not in existing}, wanted)
                await _warn_under_replicated(admin, [t for t in topics if t in existing], wanted)
            return
        except KafkaAdminError as exc:
            if not isinstance(exc.__cause__, KafkaConnectionError) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)  # the broker is still starting: retry until the deadline
        finally:
            await admin.close()


async def _create(admin: AIOKafkaAdminClient, topics: dict[str, int], wanted: Replication) -> None:
    if not topics:
        return
    configs = wanted.topic_configs
    response = await admin.create_topics(
        [NewTopic(name, n, wanted.factor, topic_configs=configs) for name, n in topics.items()]
    )
    for name, code, *message in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            detail = message[0] if message and message[0] else f"error {code}"
            raise KafkaAdminError(f"cannot create topic {name}: {detail}", retriable=False)
    log.info(
        "topics created",
        extra={
            "topics": sorted(topics),
            "replicas": wanted.factor,
            "min_insync_replicas": wanted.min_insync,
        },
    )


async def _warn_under_replicated(
    admin: AIOKafkaAdminClient, topics: list[str], wanted: Replication
) -> None:
    if not topics:
        return
    for described in await admin.describe_topics(topics):
        replicas = min((len(p["replicas"]) for p in described["partitions"] or []), default=0)
        if not described["error_code"] and replicas < wanted.factor:
            log.warning(
                "topic has fewer replicas than kafka.replication_factor asks for",
                extra={"topic": described["topic"], "replicas": replicas, "wanted": wanted.factor},
            )


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partition numbers of `topic`, or [] when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        with kafka_errors(KafkaAdminError, f"cannot describe {topic}"):
            await admin.start()
            [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"]:
        return []
    return sorted(p["partition"] for p in described["partitions"])


async def topic_config(bootstrap: str, topic: str, name: str, *, timeout_s: float = 10.0) -> str:
    """The effective value of one config of `topic` (its own, else the broker's default)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        with kafka_errors(KafkaAdminError, f"cannot read {name} of {topic}"):
            await admin.start()
            resource = ConfigResource(ConfigResourceType.TOPIC, topic, {name: None})
            [response] = await admin.describe_configs([resource])
    finally:
        await admin.close()
    for described in response.to_object()["resources"]:
        if described["error_code"]:
            raise KafkaAdminError(
                f"cannot read {name} of {topic}: error {described['error_code']}",
                retriable=False,
            )
        for entry in described["config_entries"]:
            if entry["config_names"] == name and entry["config_value"] is not None:
                return str(entry["config_value"])
    raise KafkaAdminError(f"{topic} has no {name}", retriable=False)
