"""From Kafka bytes to a normalised Envelope: decoding and the SPEC §3 normalisation rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.checks import parse_timestamp
from domain.fields import (
    Headers,
    RawEvent,
    typed_event,
)
from domain.model import Envelope
from domain.reasons import Reason, Rejection, type_name
from domain.render import described
from domain.users import SessionOwner, resolve_user

DEFAULT_MAX_RECORD_BYTES = 1_048_576

# Flat format: top-level keys that describe the event rather than carry its business data.
ENVELOPE_FIELDS = frozenset(
    {
        "event_id",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "metadata",
        "created_at",
        "correlation_id",
        "version",
        "user_id",
        "session_id",
        "timestamp",
        "novel_id",
    }
)
# Nested format: routing keys inside `payload` that the browser does not need back.
ROUTING_FIELDS = frozenset({"user_id", "session_id", "timestamp", "novel_id"})
INTERNAL_PREFIX = "internal_"


def decode(
    value: bytes | None,
    loads: Callable[[bytes], Any],
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> dict[str, Any] | Rejection:
    """A record value must be at most `max_record_bytes` of UTF-8 JSON holding one object."""
    if not value:
        return Rejection(Reason.INVALID_JSON, "record value is empty")
    if len(value) > max_record_bytes:
        return Rejection(
            Reason.OVERSIZED,
            f"record value is {len(value)} bytes, over the {max_record_bytes}-byte cap",
        )
    try:
        obj = loads(value)
    except (ValueError, TypeError, RecursionError) as exc:
        # Only on the failure path do we pay for telling bad UTF-8 from bad JSON.
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Rejection(Reason.INVALID_UTF8, f"record value is not UTF-8: {bad.reason}")
        return Rejection(Reason.INVALID_JSON, f"record value is not JSON: {described(exc, 160)}")
    if not isinstance(obj, dict):
        return Rejection(
            Reason.NOT_AN_OBJECT, f"record value is a JSON {type_name(obj)}, not an object"
        )
    return obj


# Which keys of an object of a given layout (its keys, in order) are public, per set of hidden
# keys: a producer writes few layouts, and filtering every key of every event costs more than
# looking its layout up. Bounded: past MAX_LAYOUTS layouts, or for one of more than
# MAX_LAYOUT_KEYS keys, the keys are filtered one by one.
MAX_LAYOUTS = 512
MAX_LAYOUT_KEYS = 64
_PUBLIC_KEYS: dict[frozenset[str], dict[tuple[str, ...], tuple[str, ...]]] = {}


def _public(items: Mapping[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    # JSON object keys are always strings.
    layouts = _PUBLIC_KEYS.get(hidden)
    if layouts is None:
        layouts = _PUBLIC_KEYS.setdefault(hidden, {})
    layout = tuple(items)
    public = layouts.get(layout)
    if public is None:
        public = tuple(k for k in layout if k not in hidden and not k.startswith(INTERNAL_PREFIX))
        if (
            len(layouts) < MAX_LAYOUTS
            and len(layout) <= MAX_LAYOUT_KEYS
            and all(type(k) is str for k in layout)
        ):
            layouts[layout] = public
    return {key: items[key] for key in public}


def business_payload(raw: RawEvent) -> Any:
    """Nested: payload.content, else payload minus routing and internal_ keys. Flat: every
    top-level field that is not an envelope field, minus internal_ keys."""
    if raw.inner is not None:
        if "content" in raw.inner:
            return raw.inner["content"]
        return _public(raw.inner, ROUTING_FIELDS)
    return _public(raw.obj, ENVELOPE_FIELDS)


def build(raw: RawEvent, user_id: str, from_owner: bool, timestamp_s: float) -> Envelope:
    """The Envelope of an event whose checks have passed (`event_type` already a string)."""
    # Positional, in the field order of Envelope: built for every delivered event, and
    # keywords cost twice as much.
    return Envelope(
        raw.event_id,
        str(raw.event_type),
        raw.aggregate_id,
        raw.session_id,
        user_id,
        from_owner,
        raw.correlation_id,
        raw.timestamp,
        raw.novel_id,
        raw.trace_id,
        business_payload(raw),
        raw.wire_format,
        timestamp_s,
    )


def normalise(
    obj: object, headers: Headers, *, session_owner: SessionOwner
) -> Envelope | Rejection:
    """Field extraction and type checks of SPEC §3, without the filter's validity checks
    (UUIDs, whitelist, time bounds); `timestamp_s` is 0.0 when the time does not parse."""
    typed = typed_event(obj, headers)
    if isinstance(typed, Rejection):
        return typed
    raw, _ = typed
    user = resolve_user(raw, session_owner)
    if isinstance(user, Rejection):
        return user
    when = parse_timestamp(raw.timestamp)
    return build(raw, user[0], user[1], when.timestamp() if when is not None else 0.0)
