"""A BridgeService over the in-memory fakes, wired as the container wires the real one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from adapters.telemetry.memory import InMemoryTelemetry
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from application.ports import DeadLetters, StreamStore, Telemetry
from application.triage import Triager
from domain.breaker import CircuitBreaker
from eventbridge.triager import build_triager


def bridge_over_fakes(
    clock: FakeClock,
    source: FakeEventSource,
    *,
    store: StreamStore | None = None,
    dead_letters: DeadLetters | None = None,
    telemetry: Telemetry | None = None,
    breaker: CircuitBreaker | None = None,
    policy: BridgePolicy | None = None,
    triager: Triager | None = None,
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
        triager=triager or build_triager(),
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
