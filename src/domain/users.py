"""Whose event is it: the user id precedence of SPEC §3 and the session-owner fallback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from domain.checks import is_user_id
from domain.reasons import Reason, Rejection, shown, type_name

SessionOwner = Callable[[str], str | None]


class Routed(Protocol):
    """What routing reads of an event (`domain.fields.RawEvent`, which imports this module)."""

    @property
    def user_value(self) -> object: ...

    @property
    def user_field(self) -> str: ...

    @property
    def session_id(self) -> str: ...


_MAX_INT_USER = 10**128  # beyond the user-id length anyway; also keeps str(int) cheap


def user_candidate(obj: Mapping[str, Any], meta: object, inner: object) -> tuple[object, str]:
    """User id precedence: top-level user_id, metadata.user_id, then (nested only) payload's.

    In the flat format `inner` is None, so a client's payload.user_id never decides routing.
    Null and empty values count as absent.
    """
    sources: tuple[tuple[object, str], ...] = (
        (obj, "user_id"),
        (meta, "metadata.user_id"),
        (inner, "payload.user_id"),
    )
    for source, name in sources:
        if isinstance(source, dict):
            value = source.get("user_id")
            if value is not None and value != "":
                return value, name
    return None, ""


def resolve_user(raw: Routed, session_owner: SessionOwner) -> tuple[str, bool] | Rejection:
    """The event's own user id if it has one (an int as its decimal string), else its session's
    owner; the flag says the id came from the owner index."""
    value = raw.user_value
    if value is None:
        return owned_by(raw, session_owner(raw.session_id))
    if isinstance(value, bool) or not isinstance(value, int | str):
        return Rejection(
            Reason.BAD_USER_ID,
            f"{raw.user_field} must be a string or an integer, got {type_name(value)}",
        )
    if isinstance(value, int):
        if abs(value) >= _MAX_INT_USER:
            return Rejection(Reason.BAD_USER_ID, f"{raw.user_field} is too large to be a user id")
        value = str(value)
    if not is_user_id(value):
        return Rejection(
            Reason.BAD_USER_ID, f"{raw.user_field} {shown(value)} is not a valid user id"
        )
    return value, False


def owned_by(raw: Routed, owner: str | None) -> tuple[str, bool] | Rejection:
    """An event without a user id belongs to its session's owner, which must be a valid user
    id; with no owner known it has no user (`no_user`)."""
    if owner is None:
        return Rejection(
            Reason.NO_USER, f"no user id, and session {shown(raw.session_id)} has no known owner"
        )
    if not is_user_id(owner):
        return Rejection(Reason.BAD_USER_ID, f"session owner {shown(owner)} is not a valid user id")
    return owner, True
