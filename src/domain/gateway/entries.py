"""One entry of a user's stream as the gateway serves it, the session filter, an event's age."""

from __future__ import annotations

from collections.abc import Sequence
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


def of_session(entries: Sequence[Entry], session: bytes | None) -> Sequence[Entry]:
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


def stored_age(entry_id: bytes, now: float) -> float | None:
    """Seconds from Redis's clock when the entry was stored (its id's milliseconds) to `now`;
    None for an id that is not `<ms>-<seq>`."""
    ms, dash, _ = entry_id.partition(b"-")
    if not dash or not ms.isdigit():
        return None
    return now - int(ms) / 1000
