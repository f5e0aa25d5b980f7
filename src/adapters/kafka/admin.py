"""Topic creation and description through aiokafka's admin client; errors translated."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from adapters.kafka.errors import kafka_errors
from application.ports import PortError


class KafkaAdminError(PortError):
    """The cluster could not be asked, or refused, what the admin client wanted."""


async def create_topics(bootstrap: str, topics: dict[str, int], *, timeout_s: float = 60.0) -> None:
    """Create each topic with its partition count; existing topics are left as they are."""
    deadline = time.monotonic() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            with kafka_errors(KafkaAdminError, "cannot create topics"):
                await admin.start()
                existing = set(await admin.list_topics())
                wanted = [
                    NewTopic(name, n, 1) for name, n in topics.items() if name not in existing
                ]
                if wanted:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        await admin.create_topics(wanted)
            return
        except KafkaAdminError as exc:
            if not isinstance(exc.__cause__, KafkaConnectionError) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)  # the broker is still starting: retry until the deadline
        finally:
            await admin.close()


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
