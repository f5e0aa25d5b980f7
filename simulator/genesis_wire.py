"""Builders of Genesis events in both wire formats (SPEC §3): flat outbox and nested."""

from __future__ import annotations

import random
import re
from typing import Any

from simulator.genesis_model import Draft, Expectation, Outcome, new_uuid

COMMAND = "Genesis.Session.Command.Received"


SAMPLED_SHARE = 0.01  # upstream services head-sample about 1% of their traces


def traceparent(rng: random.Random) -> str:
    """A W3C traceparent drawn from `rng`, flagged sampled for about 1% of traces."""
    flags = "01" if rng.random() < SAMPLED_SHARE else "00"
    return f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-{flags}"


def kafka_headers(
    event_type: str, correlation_id: str | None, trace: str | None
) -> tuple[tuple[str, bytes], ...]:
    """The outbox relay's headers; a missing correlation id is written as the string "None"."""
    headers = [
        ("event_type", event_type.encode()),
        ("version", b"1"),
        ("correlation_id", (correlation_id or "None").encode()),
    ]
    if trace is not None:
        headers.append(("traceparent", trace.encode()))
    return tuple(headers)


def flat_event(
    rng: random.Random,
    *,
    at: float,
    event_type: str,
    session_id: str,
    source: str,
    user_id: str | None,
    metadata_user: bool,
    fields: dict[str, Any],
    correlation_id: str | None,
    trace: str | None,
    kind: str,
    owner: str | None,
    outcome: Outcome | None = None,
    reason: str | None = None,
) -> Draft:
    """A flat outbox event; without an explicit outcome, the default whitelist decides it."""
    event_id = new_uuid(rng)
    if outcome is None:
        outcome, reason = screen(event_type)
    if outcome != "delivered":
        owner = None
    metadata: dict[str, Any] = {"source": source}
    if metadata_user and user_id is not None:
        metadata["user_id"] = user_id
    body: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "aggregate_type": "GenesisFlow",
        "aggregate_id": session_id,
        "metadata": metadata,
        "created_at": "",
    }
    if user_id is not None:
        body["user_id"] = user_id
    body.update(fields)
    stamp = ("created_at", "timestamp") if "timestamp" in fields else ("created_at",)
    expect = Expectation(outcome, owner, session_id, event_id, event_type, reason, kind)
    headers = kafka_headers(event_type, correlation_id, trace)
    return Draft(at, session_id.encode(), headers, expect, body, stamp)


def command_event(
    rng: random.Random,
    *,
    at: float,
    session_id: str,
    user_id: str,
    command_type: str,
    client_payload: dict[str, Any],
    correlation_id: str | None,
    trace: str | None,
    kind: str = "command",
    outcome: Outcome | None = None,
    reason: str | None = None,
) -> Draft:
    """The API gateway's `Command.Received`: the client's command under `payload`."""
    return flat_event(
        rng,
        at=at,
        event_type=COMMAND,
        session_id=session_id,
        source="api-gateway",
        user_id=user_id,
        metadata_user=True,
        fields={
            "command_type": command_type,
            "payload": client_payload,
            "session_id": session_id,
        },
        correlation_id=correlation_id,
        trace=trace,
        kind=kind,
        owner=user_id,
        outcome=outcome,
        reason=reason,
    )


def nested_event(
    rng: random.Random,
    *,
    at: float,
    event_type: str,
    session_id: str,
    user_id: str,
    payload: dict[str, Any],
    correlation_id: str,
    kind: str,
) -> Draft:
    """A nested-format event: everything about the session under `payload`, user id included."""
    event_id = new_uuid(rng)
    body = {
        "event_id": event_id,
        "event_type": event_type,
        "aggregate_id": session_id,
        "correlation_id": correlation_id,
        "payload": {"session_id": session_id, "user_id": user_id, "timestamp": "", **payload},
        "metadata": {"trace_id": f"{rng.getrandbits(128):032x}"},
    }
    expect = Expectation("delivered", user_id, session_id, event_id, event_type, None, kind)
    headers = (("event_type", event_type.encode()),)
    return Draft(at, session_id.encode(), headers, expect, body, stamp_payload=True)


_SEG = r"[A-Za-z]+(?:\.[A-Za-z]+)*"
# EventBridge's default whitelist (SPEC §4), full match: expectations are derived from it.
WHITELIST = re.compile(
    r"Genesis\.Session\.(?:Started|Command\.Received|StageCompleted|Finished|Failed|BranchCreated"
    rf"|{_SEG}\.(?:Requested|Generated|Evaluated|Proposed|Confirmed|Updated|Revised|Created))"
)


def screen(event_type: str) -> tuple[Outcome, str | None]:
    """What the default whitelist makes of a well-formed session event of this type."""
    if WHITELIST.fullmatch(event_type):
        return "delivered", None
    return "ignored", "not_whitelisted"
