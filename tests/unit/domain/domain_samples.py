"""Realistic Genesis events in both wire formats, shared by the domain tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

SESSION = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
OTHER_SESSION = "0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
EVENT = "c2a1e4f0-7b3d-4e8a-9f61-2d5c8b7a9e10"
CORRELATION = "a7d3c1b2-5e4f-4a6b-8c9d-0e1f2a3b4c5d"
NOVEL = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70"
CREATED_AT = "2025-03-01T12:00:00.250000+00:00"
NOW = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)


def no_owner(session_id: str) -> str | None:
    return None


def owned_by(user: str) -> Callable[[str], str | None]:
    """A session→owner index that knows only SESSION."""
    return {SESSION: user}.get


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def flat_command(**overrides: Any) -> dict[str, Any]:
    """An outbox Command.Received whose client payload names a foreign user and session."""
    event: dict[str, Any] = {
        "event_id": EVENT,
        "event_type": "Genesis.Session.Command.Received",
        "aggregate_type": "GenesisFlow",
        "aggregate_id": SESSION,
        "metadata": {"source": "api-gateway", "user_id": "42"},
        "created_at": CREATED_AT,
        "command_type": "RequestConceptGeneration",
        "session_id": SESSION,
        "payload": {
            "session_id": OTHER_SESSION,
            "user_id": "99",
            "user_input": "A lighthouse keeper who collects storms",
            "stage": "INITIAL_PROMPT",
            "context": {"iteration_number": 1},
            "preferences": {"genre": "magical realism"},
        },
        "internal_outbox_id": 1234,
    }
    event.update(overrides)
    return event


def flat_proposed(**overrides: Any) -> dict[str, Any]:
    """An AI agent's Theme.Proposed: no user id anywhere, routed by the session's owner."""
    event: dict[str, Any] = {
        "event_id": EVENT,
        "event_type": "Genesis.Session.Theme.Proposed",
        "aggregate_type": "GenesisFlow",
        "aggregate_id": SESSION,
        "metadata": {"source": "theme-agent"},
        "created_at": CREATED_AT,
        "session_id": SESSION,
        "content": {"theme": "Memory as a tide", "tone": "wistful"},
        "input": {"stage": "INITIAL_PROMPT"},
    }
    event.update(overrides)
    return event


def nested_started(**overrides: Any) -> dict[str, Any]:
    """The seed's nested Genesis.Session.Started."""
    event: dict[str, Any] = {
        "event_id": EVENT,
        "event_type": "Genesis.Session.Started",
        "aggregate_id": SESSION,
        "correlation_id": CORRELATION,
        "payload": {
            "session_id": SESSION,
            "novel_id": NOVEL,
            "stage": "INITIAL_PROMPT",
            "user_id": "42",
            "content": {"initial_input": "A city that forgets", "preferences": {"pov": "first"}},
            "timestamp": "2025-03-01T12:00:00Z",
        },
        "metadata": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
    }
    event.update(overrides)
    return event
