"""Field extraction from either wire format (SPEC §3): where each value comes from, typed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.reasons import Reason, Rejection, shown, type_name
from domain.users import user_candidate

Headers = Callable[[str], str | None] | Mapping[str, str]

MAX_EVENT_TYPE_CHARS = 255
FLAT = "flat"
NESTED = "nested"
_ABSENT_CORRELATION = ("", "None")  # the outbox writes str(None) when it had no correlation id


class _Refused(Exception):
    """Internal: carries a Rejection out of nested extraction helpers."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


@dataclass(slots=True)  # not frozen: built once per event and never shared, and frozen inits
class RawEvent:  # cost twice as much (object.__setattr__ for each of the 17 fields)
    """An event's fields located and type-checked, each with the name of the field it came from."""

    obj: Mapping[str, Any]
    wire_format: str
    inner: Mapping[str, Any] | None  # the nested format's `payload` object
    event_id: str
    event_type: object  # checked by `event_type_of`, in the filter's order
    aggregate_id: str
    session_id: str
    session_field: str
    timestamp: str
    timestamp_field: str
    correlation_id: str | None
    correlation_field: str
    novel_id: str | None
    novel_field: str
    trace_id: str | None
    user_value: object  # the first present user id candidate, unchecked; None when none
    user_field: str


def is_flat(obj: Mapping[str, Any]) -> bool:
    """The flat outbox format is recognised by `created_at` or `aggregate_type`."""
    return "created_at" in obj or "aggregate_type" in obj


def session_candidate(obj: Mapping[str, Any], inner: object) -> tuple[object, str]:
    """Session id: nested payload.session_id, else top-level session_id, else aggregate_id.

    The flat format never reads payload.session_id (it is the client's command): a client could
    otherwise claim another user's session and become its owner in the session→owner index.
    This deliberately deviates from SPEC §3's literal order for the flat format.
    """
    if isinstance(inner, dict) and inner.get("session_id") is not None:
        return inner["session_id"], "payload.session_id"
    if obj.get("session_id") is not None:
        return obj["session_id"], "session_id"
    return obj.get("aggregate_id"), "aggregate_id"


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise _Refused(
            Rejection(Reason.WRONG_TYPE, f"{name} must be a string, got {type_name(value)}")
        )
    return value


def _required(obj: Mapping[str, Any], key: str) -> object:
    value = obj.get(key)
    if value is None:
        raise _Refused(Rejection(Reason.MISSING_FIELD, f"missing field {key!r}"))
    return value


def _first(
    first: object, first_name: str, second: Mapping[str, Any], key: str, name: str
) -> tuple[str | None, str]:
    """`first` (a value from the nested payload, or None), else `second[key]`, type-checked."""
    if first is not None:
        return _string(first, first_name), first_name
    value = second.get(key)
    if value is not None:
        return _string(value, name), name
    return None, name


def _header(headers: Headers, name: str) -> str | None:
    return headers(name) if callable(headers) else headers.get(name)


def _extract(obj: Mapping[str, Any], headers: Headers) -> RawEvent:
    flat = is_flat(obj)
    event_id = _string(_required(obj, "event_id"), "event_id")
    event_type = _required(obj, "event_type")
    aggregate_id = _string(_required(obj, "aggregate_id"), "aggregate_id")
    inner: Mapping[str, Any] | None = None
    if not flat:
        payload = _required(obj, "payload")
        if not isinstance(payload, dict):
            raise _Refused(
                Rejection(Reason.WRONG_TYPE, f"payload must be an object, got {type_name(payload)}")
            )
        inner = payload
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise _Refused(
            Rejection(Reason.WRONG_TYPE, f"metadata must be an object, got {type_name(meta)}")
        )
    session, session_field = session_candidate(obj, inner)
    session_id = _string(session, session_field)
    in_payload = inner.get("timestamp") if inner is not None else None
    timestamp, timestamp_field = _first(
        in_payload, "payload.timestamp", obj, "timestamp", "timestamp"
    )
    if timestamp is None:
        timestamp, timestamp_field = _first(None, "", obj, "created_at", "created_at")
    if timestamp is None:
        raise _Refused(Rejection(Reason.MISSING_FIELD, "missing field 'timestamp'"))
    correlation, correlation_field = _first(None, "", obj, "correlation_id", "correlation_id")
    if correlation is None or correlation in _ABSENT_CORRELATION:
        correlation, correlation_field = _header(headers, "correlation_id"), "header correlation_id"
    if correlation in _ABSENT_CORRELATION:
        correlation = None
    in_payload = inner.get("novel_id") if inner is not None else None
    novel_id, novel_field = _first(in_payload, "payload.novel_id", obj, "novel_id", "novel_id")
    trace = meta.get("trace_id") if meta is not None else None
    user_value, user_field = user_candidate(obj, meta, inner)
    # Positional, in the field order of RawEvent: built for every event, and a call with
    # seventeen keywords costs twice as much as one without.
    return RawEvent(
        obj,
        FLAT if flat else NESTED,
        inner,
        event_id,
        event_type,
        aggregate_id,
        session_id,
        session_field,
        timestamp,
        timestamp_field,
        correlation,
        correlation_field,
        novel_id,
        novel_field,
        trace if isinstance(trace, str) else None,
        user_value,
        user_field,
    )


def extract(obj: Mapping[str, Any], headers: Headers) -> RawEvent | Rejection:
    """Required fields present and of the right type (the first check of SPEC §4)."""
    try:
        return _extract(obj, headers)
    except _Refused as refused:
        return refused.rejection


def event_type_of(raw: RawEvent) -> str | Rejection:
    """The event type must be a non-empty string of at most 255 printable characters: it
    becomes the SSE `event:` line (a line break there would forge events) and a metric label."""
    value = raw.event_type
    if not isinstance(value, str) or not value:
        return Rejection(
            Reason.BAD_EVENT_TYPE, f"event_type must be a non-empty string, got {shown(value)}"
        )
    if len(value) > MAX_EVENT_TYPE_CHARS or not value.isprintable():
        return Rejection(
            Reason.BAD_EVENT_TYPE,
            f"event_type must be at most {MAX_EVENT_TYPE_CHARS} printable characters,"
            f" got {shown(value)}",
        )
    return value


def typed_event(obj: object, headers: Headers) -> tuple[RawEvent, str] | Rejection:
    """The first checks of both the normaliser and the filter: an object, its required fields
    present and typed, and its event type a non-empty string."""
    if not isinstance(obj, dict):
        return Rejection(Reason.NOT_AN_OBJECT, f"event is a {type_name(obj)}, not an object")
    raw = extract(obj, headers)
    if isinstance(raw, Rejection):
        return raw
    event_type = event_type_of(raw)
    if isinstance(event_type, Rejection):
        return event_type
    return raw, event_type
