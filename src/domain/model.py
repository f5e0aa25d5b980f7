"""Value types shared by the domain, the application and the adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, order=True)
class Partition:
    """One partition of one topic: the unit of ordering and of committing."""

    topic: str
    partition: int


# Record, Envelope and SseMessage are built for every event, so they are not frozen: a frozen
# dataclass sets each field through object.__setattr__, which makes its __init__ 4-6x slower
# (~3 us per delivered event for the three; bench/bridge_path.py). Nothing mutates them: each
# is built once, whole, and then only read.
@dataclass(slots=True)
class Record:
    """One Kafka record exactly as fetched: bytes in, nothing decoded yet."""

    partition: Partition
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0
    # Set by the source when the record could not be read as Kafka says it must be (a header
    # name that is not UTF-8): what was wrong. Such a record is invalid whatever its value.
    unreadable: str | None = None

    def header(self, name: str) -> str | None:
        """The last header called `name`, decoded as UTF-8 (replacement on bad bytes)."""
        for key, raw in reversed(self.headers):
            if key == name:
                return raw.decode("utf-8", "replace") if raw is not None else None
        return None


@dataclass(slots=True)
class Envelope:
    """A domain event normalised from either wire format (SPEC §3)."""

    event_id: str
    event_type: str
    aggregate_id: str
    session_id: str
    user_id: str | None
    user_id_from_owner: bool
    correlation_id: str | None
    timestamp: str
    novel_id: str | None
    trace_id: str | None
    payload: Any
    wire_format: str  # "nested" | "flat"
    timestamp_s: float = 0.0  # `timestamp` as epoch seconds, parsed once by the filter


@dataclass(slots=True)
class SseMessage:
    """What one event becomes for the browser: routed to one user, data already serialised."""

    user_id: str
    session_id: str
    event_id: str
    event_type: str
    data: bytes
    teaches_owner: bool = False
    timestamp_s: float = 0.0  # the event's own time (epoch seconds), for end-to-end latency
    # The record's W3C traceparent when its trace is sampled, else "" (stream field `tp`).
    traceparent: str = ""
