"""Value types of the Genesis traffic generator: records, their expectations, the knobs."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

Outcome = Literal["delivered", "ignored", "invalid"]

# Kinds of well-formed traffic a real platform produces.
GOOD_KINDS = frozenset(
    {
        "command",
        "request",
        "revision",
        "update",
        "user_confirm",
        "agent_proposal",
        "agent_confirmed",
        "agent_regeneration",
        "agent_failed",
        "stage_confirmed",
        "stage_failed",
        "nested_started",
        "nested_proposal",
    }
)
# Kinds that count towards `bad_ratio`; all but foreign_user live in sessions of their own.
BAD_KINDS = frozenset(
    {
        "bad_json",
        "invalid_utf8",
        "missing_event_id",
        "bad_uuid",
        "not_an_object",
        "oversized",
        "unknown_type",
        "non_session",
        "foreign_user",
        "orphan_agent",
    }
)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a correct EventBridge must do with one record."""

    outcome: Outcome
    user_id: str | None  # whose stream it must land in (for delivered)
    session_id: str | None
    event_id: str | None
    event_type: str | None
    reason: str | None  # for ignored/invalid: the reason code EventBridge must report
    kind: str  # a short label of what this record is, one of GOOD_KINDS | BAD_KINDS


@dataclass(frozen=True, slots=True)
class SimRecord:
    """One Kafka record to produce, when to produce it, and what must become of it."""

    key: bytes  # session id (utf-8)
    value: bytes  # the wire bytes (usually JSON)
    headers: tuple[tuple[str, bytes], ...]
    at: float  # seconds since the start of the run when it should be produced
    expect: Expectation


@dataclass(frozen=True)
class TrafficConfig:
    """The knobs of a simulated run (SPEC §11)."""

    seed: int = 7
    users: int = 20
    rate: float = 50.0  # target events per second, all users together
    duration_s: float = 60.0
    bad_ratio: float = 0.02
    think_time_s: tuple[float, float] = (0.5, 3.0)
    burst_probability: float = 0.1
    oversize_bytes: int = 70_000

    def __post_init__(self) -> None:
        lo, hi = self.think_time_s
        checks = {
            "users": self.users >= 1,
            "rate": self.rate > 0 and math.isfinite(self.rate),
            "duration_s": self.duration_s >= 0,
            "bad_ratio": 0.0 <= self.bad_ratio < 1.0,
            "think_time_s": 0.0 <= lo <= hi and hi > 0,
            "burst_probability": 0.0 <= self.burst_probability <= 1.0,
            "oversize_bytes": self.oversize_bytes >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid TrafficConfig field(s): {', '.join(bad)}")


def new_uuid(rng: random.Random) -> str:
    """A UUIDv4 string drawn from `rng`, so ids repeat with the seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(when: datetime, *, zulu: bool = False) -> str:
    """ISO-8601 in UTC with microseconds, `+00:00` or (zulu) `Z`."""
    if when.tzinfo is None:  # a naive clock is taken to be UTC
        when = when.replace(tzinfo=UTC)
    text = when.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if zulu else text


@dataclass(slots=True)
class Draft:
    """A record before it is stamped with the production time and serialised."""

    at: float
    key: bytes
    headers: tuple[tuple[str, bytes], ...]
    expect: Expectation
    body: Any  # a JSON-able value
    stamp: tuple[str, ...] = ()  # top-level keys set to the production time
    stamp_payload: bool = False  # nested format: payload.timestamp too (with 'Z')
    mangle: Callable[[bytes], bytes] | None = None  # breaks the bytes on purpose

    def render(self, when: datetime) -> SimRecord:
        """Stamp the time fields, serialise once, apply the deliberate damage if any."""
        body = self.body
        if isinstance(body, dict):
            now = iso(when)
            for name in self.stamp:
                body[name] = now
            if self.stamp_payload:
                body["payload"]["timestamp"] = iso(when, zulu=True)
        value = orjson.dumps(body)
        if self.mangle is not None:
            value = self.mangle(value)
        return SimRecord(self.key, value, self.headers, self.at, self.expect)
