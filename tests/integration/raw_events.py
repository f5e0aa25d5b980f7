"""Hand-made Genesis records for integration tests: flat outbox events, produced as they are."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

Headers = Sequence[tuple[str, bytes]]


def flat_event(session: str, event_type: Any, metadata: dict[str, Any], **body: Any) -> bytes:
    """An outbox (flat format) event of `session`, stamped now."""
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "aggregate_type": "GenesisFlow",
        "aggregate_id": session,
        "session_id": session,
        "metadata": metadata,
        "created_at": datetime.now(UTC).isoformat(),
        **body,
    }
    return orjson.dumps(event)


def agent_event(session: str) -> bytes:
    """An AI agent's proposal: no user id anywhere, routed by its session's owner."""
    return flat_event(
        session,
        "Genesis.Session.Theme.Proposed",
        {"source": "theme-agent"},
        content={"theme": "Memory as a tide"},
    )


def command_event(session: str, user: str) -> bytes:
    """The user's own command: names its user, so it teaches its session's owner."""
    return flat_event(
        session,
        "Genesis.Session.Command.Received",
        {"source": "api-gateway", "user_id": user},
        command_type="RequestConceptGeneration",
        payload={"user_input": "A lighthouse keeper who collects storms"},
    )


def event_id_of(value: bytes) -> str:
    return str(orjson.loads(value)["event_id"])


async def produce_raw(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes | None, Headers]],
    *,
    max_request_size: int = 2 * 1024 * 1024,
) -> None:
    """Send (key, value, headers) records in order and wait until Kafka acknowledged them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=max_request_size
    )
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send(topic, value, key=key, headers=list(headers))
        await producer.flush()
    finally:
        await producer.stop()
