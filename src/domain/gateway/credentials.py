"""Who is asking and until when: a principal, tickets, and the expiry of a credential."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_TICKET = re.compile(r"[A-Za-z0-9_-]{20,100}")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user and the unix time at which their credential expires."""

    user_id: str
    expires_at: float


def valid_ticket(ticket: str) -> bool:
    """A ticket as the gateway issues them (URL-safe base64); anything else is never looked up."""
    return _TICKET.fullmatch(ticket) is not None


def expiry_of(exp: object) -> float | None:
    """A credential's `exp` claim as unix seconds, or None when it is not a finite time."""
    try:
        expires_at = float(exp)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return expires_at if math.isfinite(expires_at) else None


def expired(expires_at: float, now: float) -> bool:
    """A credential is refused from its `exp` on: no leeway, since a stream ends at `exp` and
    one opened past it would have to end before sending anything."""
    return expires_at <= now


def ticket_ttl_s(expires_at: float, now: float, ttl_max_s: int) -> int | None:
    """A new ticket's lifetime: `ttl_max_s`, never past the credential it stands for; None when
    the credential has no whole second left."""
    left = math.ceil(expires_at - now)
    return None if left <= 0 else min(ttl_max_s, left)


def stream_deadline(expires_at: float, now: float, monotonic_now: float) -> float:
    """The monotonic time at which a stream opened at `now` (unix seconds) with this credential
    ends: wall time turned into the monotonic clock once, when the connection is made."""
    return monotonic_now + (expires_at - now)
