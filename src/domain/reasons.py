"""Verdicts and stable reason codes for events the bridge does not deliver (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.render import described, shown

__all__ = [
    "VERDICT_OF",
    "Reason",
    "Rejection",
    "Verdict",
    "internal_error",
    "shown",
    "type_name",
]


class Verdict(StrEnum):
    """What happens to a record: delivered, counted and committed, or dead-lettered."""

    ACCEPTED = "accepted"
    IGNORED = "ignored"
    INVALID = "invalid"


class Reason(StrEnum):
    """Stable machine codes; they appear in metrics labels and dead-letter headers."""

    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_EVENT_TYPE = "bad_event_type"
    BAD_USER_ID = "bad_user_id"
    NO_USER = "no_user"
    BAD_UUID = "bad_uuid"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    OVERSIZED = "oversized"
    NOT_SESSION_EVENT = "not_session_event"
    NOT_WHITELISTED = "not_whitelisted"
    INTERNAL_ERROR = "internal_error"  # handling the record raised: a bug, shown by its type


# Ignored = a valid event not meant for browsers; everything else is malformed (SPEC §4).
VERDICT_OF: dict[Reason, Verdict] = {
    reason: (
        Verdict.IGNORED
        if reason in (Reason.NOT_SESSION_EVENT, Reason.NOT_WHITELISTED)
        else Verdict.INVALID
    )
    for reason in Reason
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event is not delivered: a machine code and a message naming the field."""

    reason: Reason
    message: str

    @property
    def verdict(self) -> Verdict:
        """Not-whitelisted and non-session types are ignored; every other reason is invalid."""
        return VERDICT_OF[self.reason]


def internal_error(exc: Exception, during: str) -> Rejection:
    """Anything raised while handling one record is that record's problem (SPEC §15): it is
    dead-lettered with the exception's type in the message, and the batch goes on."""
    return Rejection(Reason.INTERNAL_ERROR, f"{described(exc)} while {during} the record")


def type_name(value: object) -> str:
    """The JSON-ish name of a value's type, for wrong-type messages."""
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
