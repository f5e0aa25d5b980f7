"""One entry of a user's stream as the gateway serves it, the session filter, an event's age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: its id, event type, session and the bridge's JSON (bytes, never
    decoded: the gateway writes them as they are)."""

    id: bytes
    event: bytes
    session: bytes
    data: bytes


def of_session(entries: list[Entry], session: bytes | None) -> list[Entry]:
    """The entries a connection filtered to `session` is sent (all of them without a filter)."""
    if session is None:
        return entries
    return [e for e in entries if e.session == session]


def event_age(data: bytes, now: float) -> float | None:
    """Seconds from the `timestamp` inside the data JSON to `now` (unix seconds), found without
    decoding it all; None when there is none or it is not an ISO time."""
    at = data.find(b'"timestamp":"')
    if at < 0:
        return None
    end = data.find(b'"', at + 13)
    try:
        return now - datetime.fromisoformat(data[at + 13 : end].decode()).timestamp()
    except ValueError:
        return None
