"""A BridgeService over the in-memory fakes, wired as the container wires the real one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from adapters.telemetry.memory import InMemoryTelemetry
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.owners import OwnerCache
from application.policy import BridgePolicy
from application.ports import DeadLetters, StreamStore, Telemetry
from application.triage import Triager
from domain.breaker import CircuitBreaker
from domain.filter import EventFilter, FilterPolicy
from domain.mapper import SseMapper


def default_triager(max_record_bytes: int, owners: OwnerCache | None = None) -> Triager:
    """The default filter and mapper, with orjson, and a fresh owner memory (or `owners`)."""
    return Triager(
        event_filter=EventFilter(FilterPolicy()),
        mapper=SseMapper(dumps=orjson.dumps),
        owners=owners if owners is not None else OwnerCache(),
        loads=orjson.loads,
        max_record_bytes=max_record_bytes,
    )


def bridge_over_fakes(
    clock: FakeClock,
    source: FakeEventSource,
    *,
    store: StreamStore | None = None,
    dead_letters: DeadLetters | None = None,
    telemetry: Telemetry | None = None,
    breaker: CircuitBreaker | None = None,
    policy: BridgePolicy | None = None,
) -> BridgeService:
    """A bridge process (a fresh memory) over `source`; fresh fakes for what is not given."""
    policy = policy or BridgePolicy()
    return BridgeService(
        source=source,
        store=store or FakeStreamStore(),
        dead_letters=dead_letters or FakeDeadLetters(),
        telemetry=telemetry or InMemoryTelemetry(),
        clock=clock,
        breaker=breaker or CircuitBreaker(),
        triager=default_triager(policy.max_record_bytes),
        policy=policy,
    )


def flat_event(
    when: datetime,
    session: str,
    user: str | None,
    event_type: str = "Genesis.Session.Theme.Proposed",
    **body: Any,
) -> bytes:
    """A flat outbox event of `session` stamped `when`, naming `user` in its metadata (an AI
    agent's, naming nobody, when `user` is None)."""
    return orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "aggregate_type": "GenesisFlow",
            "aggregate_id": session,
            "session_id": session,
            "created_at": when.isoformat(),
            "metadata": {"source": "api-gateway", "user_id": user} if user else {"source": "ai"},
            **body,
        }
    )
