"""Hostile records, seeded, each with the verdict EventBridge owes it (SPEC §15).

Every kind below is one way a producer (buggy, old, foreign or malicious) can hurt a consumer:
nesting a thousand deep in each field, huge strings and numbers, JSON types where strings
belong, bytes that are not UTF-8 in the value, the key, a header value or a header *name*,
NaN/Infinity, integers past 64 bits, duplicate keys, empty and null values, records at the
topic's size limit, odd headers. The expected verdict is written down per kind, by hand (never
computed by the code under test): `invalid` with its reason (a dead letter), `ignored`, or
`delivered` (to whom), for records whose only oddity is harmless.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from simulator.genesis_model import Outcome, new_uuid

RawHeaders = tuple[tuple[bytes, bytes], ...]
DEPTH = 1000  # under orjson's parse limit (1024), far over its serialise limit (254)
# What a record of one session key needs besides its value: a value this much under the
# topic's max.message.bytes still fits the topic, and its dead letter (~300 bytes of dlq.*
# headers more) does not.
_RECORD_ROOM = 180


@dataclass(frozen=True, slots=True)
class Hostile:
    """One hostile record and what must become of it."""

    kind: str
    key: bytes | None
    value: bytes | None
    outcome: Outcome
    reason: str | None = None  # for invalid and ignored
    user: str | None = None  # for delivered: whose stream
    event_id: str | None = None
    session: str | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    raw_headers: RawHeaders | None = None  # header names as bytes: sent by hand


@dataclass
class _Event:
    """A valid flat Command.Received of a fresh session, to be spoiled by one kind."""

    rng: random.Random
    session: str = ""
    event_id: str = ""
    user: str = ""
    body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.session, self.event_id = new_uuid(self.rng), new_uuid(self.rng)
        self.user = str(self.rng.randint(1, 50))
        self.body = {
            "event_id": self.event_id,
            "event_type": "Genesis.Session.Command.Received",
            "aggregate_type": "GenesisFlow",
            "aggregate_id": self.session,
            "session_id": self.session,
            "metadata": {"source": "api-gateway", "user_id": self.user},
            "created_at": datetime.now(UTC).isoformat(),
            "command_type": "RequestConceptGeneration",
            "payload": {"user_input": "A lighthouse keeper who collects storms"},
        }

    def bytes(self) -> bytes:
        return _json(self.body)

    def invalid(self, kind: str, reason: str, value: bytes | None = None, **kw: Any) -> Hostile:
        key = kw.pop("key", self.session.encode())
        value = self.bytes() if value is None else value
        return Hostile(kind, key, value, "invalid", reason, session=self.session, **kw)

    def delivered(
        self, kind: str, value: bytes | None = None, user: str | None = None, **kw: Any
    ) -> Hostile:
        key = kw.pop("key", self.session.encode())
        value = self.bytes() if value is None else value
        return Hostile(
            kind,
            key,
            value,
            "delivered",
            None,
            user or self.user,
            self.event_id,
            self.session,
            **kw,
        )

    def ignored(self, kind: str, reason: str, value: bytes | None = None) -> Hostile:
        value = self.bytes() if value is None else value
        return Hostile(kind, self.session.encode(), value, "ignored", reason, session=self.session)


@dataclass(frozen=True, slots=True)
class _Literal:
    """JSON text put in a body as it is (serialisers refuse nesting this deep)."""

    text: bytes

    @property
    def marker(self) -> str:
        return f"@@literal-{id(self)}@@"


def _json(body: Any) -> bytes:
    """`body` as JSON, each _Literal in it written as its text."""
    literals: list[_Literal] = []

    def marked(value: object) -> str:
        if not isinstance(value, _Literal):
            raise TypeError(type(value).__name__)
        literals.append(value)
        return value.marker

    text = orjson.dumps(body, default=marked, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    for literal in literals:
        text = text.replace(orjson.dumps(literal.marker), literal.text)
    return text


def deep(depth: int, *, objects: bool = False) -> _Literal:
    """An array (or object) nested `depth` deep, as JSON text."""
    if objects:
        return _Literal(b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1))
    return _Literal(b"[" * depth + b"]" * depth)


def _set(e: _Event, path: str, value: Any) -> _Event:
    target = e.body
    *parents, last = path.split(".")
    for name in parents:
        target = target[name]
    target[last] = value
    return e


def _text(e: _Event, path: str, literal: bytes) -> bytes:
    """The event's JSON with `path`'s value replaced by a literal JSON text."""
    return _set(e, path, _Literal(literal)).bytes()


def _nested(e: _Event, payload: Any) -> bytes:
    """The event in the nested format, with `payload` as its payload."""
    drop = ("aggregate_type", "created_at", "session_id")
    body = {k: v for k, v in e.body.items() if k not in drop}
    body["event_type"] = "Genesis.Session.Started"
    body["payload"] = payload
    return _json(body)


# kind: (field, its hostile value, reason): the event with that one field replaced is invalid.
_FIELDS: dict[str, tuple[str, Callable[[], Any], str]] = {
    # Nesting a thousand deep, in every field and type position.
    "deep_event_type": ("event_type", lambda: deep(DEPTH), "bad_event_type"),
    "deep_event_type_object": ("event_type", lambda: deep(DEPTH, objects=True), "bad_event_type"),
    "deep_event_id": ("event_id", lambda: deep(DEPTH), "wrong_type"),
    "deep_session_id": ("session_id", lambda: deep(DEPTH, objects=True), "wrong_type"),
    "deep_metadata": ("metadata", lambda: deep(DEPTH), "wrong_type"),
    "deep_user_id": ("metadata.user_id", lambda: deep(DEPTH), "bad_user_id"),
    "deep_created_at": ("created_at", lambda: deep(DEPTH, objects=True), "wrong_type"),
    "deep_content": ("content", lambda: {"draft": deep(DEPTH)}, "wrong_type"),
    "deep_past_the_parser": ("event_type", lambda: deep(2 * DEPTH), "invalid_json"),
    # Huge strings.
    "huge_event_type": (
        "event_type",
        lambda: "Genesis.Session." + "A" * 200_000 + ".Requested",
        "bad_event_type",
    ),
    "huge_user_id": ("metadata.user_id", lambda: "7" * 200_000, "bad_user_id"),
    "huge_event_id": ("event_id", lambda: "e" * 200_000, "bad_uuid"),
    "huge_content": ("content", lambda: "x" * 100_000, "oversized"),
    # JSON types where strings belong.
    "event_type_number": ("event_type", lambda: 42, "bad_event_type"),
    "event_type_boolean": ("event_type", lambda: True, "bad_event_type"),
    "event_type_null": ("event_type", lambda: None, "missing_field"),
    "user_id_array": ("metadata.user_id", lambda: ["7"], "bad_user_id"),
    "user_id_boolean": ("metadata.user_id", lambda: True, "bad_user_id"),
    "user_id_object": ("metadata.user_id", lambda: {"id": 7}, "bad_user_id"),
    "session_id_number": ("session_id", lambda: 42, "wrong_type"),
    "metadata_string": ("metadata", lambda: "x", "wrong_type"),
    "created_at_number": ("created_at", lambda: 1_700_000_000, "wrong_type"),
    "correlation_id_number": ("correlation_id", lambda: 5, "wrong_type"),
    "event_type_line_break": (
        "event_type",
        lambda: "Genesis.Session.Started\r\nevent: forged",
        "bad_event_type",
    ),
}
# kind: (field, a JSON text no serialiser would write there, reason or None for delivered).
_TEXTS: dict[str, tuple[str, bytes, str | None]] = {
    "int_past_64_bits_user": ("metadata.user_id", b"1" * 40, "bad_user_id"),
    "int_past_64_bits_field": ("score", b"9" * 40, None),  # parsed as a float: harmless
    "number_infinite": ("score", b"1e999", "invalid_json"),
    "literal_nan": ("score", b"NaN", "invalid_json"),
    "literal_infinity": ("score", b"-Infinity", "invalid_json"),
    "invalid_utf8_value": ("payload.user_input", b'"caf\xe9 cr\xe8me"', "invalid_utf8"),
    "lone_surrogate_escape": ("payload.user_input", b'"\\ud800 alone"', "invalid_json"),
}
# kind: (the whole value, reason): whatever the event was.
_VALUES: dict[str, tuple[bytes, str]] = {
    "not_an_object_array": (b"[1,2]", "not_an_object"),
    "not_an_object_number": (b"42", "not_an_object"),
    "not_an_object_string": (b'"Genesis.Session.Started"', "not_an_object"),
    "null_json": (b"null", "not_an_object"),
    "empty_value": (b"", "invalid_json"),
    "whitespace_value": (b"   \n", "invalid_json"),
}
# Fifty-five bytes of [0-9a-f-] with the dashes of version 00 where they belong, and dashes
# where hex digits belong: the shape of a traceparent, but none (W3C: ignored, a new trace).
HOSTILE_TRACEPARENTS: dict[str, bytes] = {
    "flags_of_dashes": b"00-" + b"1" * 32 + b"-" + b"1" * 16 + b"---",
    "trace_id_of_dashes": b"00-" + b"-" * 32 + b"-" + b"1" * 16 + b"-01",
    "span_id_of_dashes": b"00-" + b"1" * 32 + b"-" + b"-" * 16 + b"-01",
    "version_of_dashes": b"---" + b"1" * 32 + b"-" + b"1" * 16 + b"-01",
    "all_dashes": b"-" * 55,
}
# kind: headers that leave a valid event valid.
_HEADERS: dict[str, Callable[[], tuple[tuple[str, bytes], ...]]] = {
    "invalid_utf8_header_value": lambda: (("x-note", b"\xff\xfe\xfd"),),
    "headers_many": lambda: tuple((f"h{i}", b"v") for i in range(500)),
    "header_huge_value": lambda: (("x-huge", b"h" * 100_000),),
    "header_empty_name": lambda: (("", b"v"),),
    "header_bad_traceparent": lambda: (("traceparent", b"00-zz-yy-01\x00"),),
    **{
        f"header_traceparent_{name}": (lambda v=value: (("traceparent", v),))
        for name, value in HOSTILE_TRACEPARENTS.items()
    },
}


def _other(e: _Event, kind: str, limit: int) -> Hostile:
    """The kinds that need more than one replaced field."""
    if kind == "deep_nested_payload":
        return e.invalid(kind, "wrong_type", _nested(e, deep(DEPTH)))
    if kind == "nested_payload_string":
        return e.invalid(kind, "wrong_type", _nested(e, "x"))
    if kind == "huge_key":
        return e.delivered(kind, key=b"k" * 100_000)
    if kind == "int_user_id":
        return _set(e, "metadata.user_id", 4242).delivered(kind, user="4242")
    if kind == "invalid_utf8_key":
        return e.delivered(kind, key=b"\xff\xfe" + e.session.encode())
    if kind == "invalid_utf8_correlation_header":  # the body has none: the header is used
        return e.invalid(kind, "bad_uuid", headers=(("correlation_id", b"\xff\xfe"),))
    if kind == "invalid_utf8_header_name":  # librdkafka can write one, the JVM cannot
        names = ((b"\xff\xfe-name", b"v"), (b"version", b"1"))
        return e.invalid(kind, "invalid_utf8", raw_headers=names)
    if kind == "utf8_bom":
        return e.invalid(kind, "invalid_json", b"\xef\xbb\xbf" + e.bytes())
    if kind == "nul_in_a_string":
        return _set(e, "payload.user_input", "before\x00after").delivered(kind)
    if kind == "duplicate_user_id":  # the last one wins (orjson, like most parsers)
        return e.delivered(kind, e.bytes()[:-1] + b',"user_id":"777"}', user="777")
    if kind == "duplicate_event_type":
        value = e.bytes()[:-1] + b',"event_type":"Genesis.Novel.Created"}'
        return e.ignored(kind, "not_session_event", value)
    if kind == "event_type_non_ascii":
        return _set(e, "event_type", "Genesis.Session.Thème.Requested").ignored(
            kind, "not_whitelisted"
        )
    if kind == "null_value":
        return Hostile(kind, e.session.encode(), None, "invalid", "invalid_json", session=e.session)
    if kind == "null_key_and_value":
        return Hostile(kind, None, None, "invalid", "invalid_json", session=e.session)
    if kind == "header_spoofs_dlq_reason":
        return e.invalid(kind, "invalid_json", b"{oops", headers=(("dlq.reason", b"spoofed"),))
    # Records at the topic's size limit: their dead letters must be cut to fit.
    if kind == "at_limit_not_json":
        return e.invalid(kind, "invalid_json", b"{" + b"x" * (limit - _RECORD_ROOM))
    if kind == "at_limit_oversized":
        envelope = len(_set(e, "content", "").bytes())
        return _set(e, "content", "y" * (limit - _RECORD_ROOM - envelope)).invalid(
            kind, "oversized"
        )
    raise KeyError(kind)


_OTHERS = (
    "deep_nested_payload",
    "nested_payload_string",
    "huge_key",
    "int_user_id",
    "invalid_utf8_key",
    "invalid_utf8_correlation_header",
    "invalid_utf8_header_name",
    "utf8_bom",
    "nul_in_a_string",
    "duplicate_user_id",
    "duplicate_event_type",
    "event_type_non_ascii",
    "null_value",
    "null_key_and_value",
    "header_spoofs_dlq_reason",
    "at_limit_not_json",
    "at_limit_oversized",
)
KINDS: tuple[str, ...] = (*_FIELDS, *_TEXTS, *_VALUES, *_HEADERS, *_OTHERS)


def hostile(rng: random.Random, kind: str | None = None, *, limit: int) -> Hostile:
    """One hostile record of `kind` (else one drawn evenly), for a topic of `limit` bytes."""
    chosen = kind or rng.choice(KINDS)
    e = _Event(rng)
    if chosen in _FIELDS:
        path, value, reason = _FIELDS[chosen]
        return _set(e, path, value()).invalid(chosen, reason)
    if chosen in _TEXTS:
        path, literal, reason = _TEXTS[chosen]
        text = _text(e, path, literal)
        return e.invalid(chosen, reason, text) if reason else e.delivered(chosen, text)
    if chosen in _VALUES:
        value, reason = _VALUES[chosen]
        return e.invalid(chosen, reason, value)
    if chosen in _HEADERS:
        return e.delivered(chosen, headers=_HEADERS[chosen]())
    return _other(e, chosen, limit)
