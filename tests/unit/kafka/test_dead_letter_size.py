"""A dead letter always fits the dead-letter topic: cut in a fixed order, and says so."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kafka.letters import Letter, letter_of
from application.ports import DeadLetter
from domain.model import Partition, Record

pytestmark = pytest.mark.unit

P = Partition("genesis.domain.events", 3)
LIMIT = 65_536


def letter(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]], **kw: object
) -> Letter:
    dead = DeadLetter(Record(P, 42, key, value, tuple(headers)), "invalid_json", "not JSON")
    return letter_of(dead, now=b"2026-12-01T12:00:00+00:00", limit=LIMIT, **kw)  # type: ignore[arg-type]


def headers_of(made: Letter) -> dict[str, bytes]:
    return dict(made.headers)


def test_a_letter_that_fits_is_the_record_byte_for_byte_plus_the_reason() -> None:
    made = letter(b"k", b"{bad", [("origin", b"test")])
    assert (made.key, made.value) == (b"k", b"{bad")
    assert made.headers[0] == ("origin", b"test")
    h = headers_of(made)
    assert h["dlq.reason"] == b"invalid_json"
    assert (h["dlq.source.partition"], h["dlq.source.offset"]) == (b"3", b"42")
    assert not made.truncated


def test_a_value_near_the_limit_is_truncated_and_its_size_and_hash_kept() -> None:
    value = b"x" * (LIMIT - 100)
    made = letter(b"session", value, [("origin", b"test")])
    assert made.size <= LIMIT
    assert made.truncated
    assert value.startswith(made.value or b"")
    assert len(made.value or b"") > LIMIT - 1000  # cut only as much as it must
    h = headers_of(made)
    assert h["dlq.truncated.parts"] == b"value"
    assert h["dlq.original_size"] == str(len(value)).encode()
    assert h["dlq.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert h["origin"] == b"test"


def test_headers_too_large_are_dropped_then_a_key_too_large_is_cut() -> None:
    made = letter(b"k", b"v" * 10, [("big", b"h" * LIMIT)])
    assert made.size <= LIMIT
    assert headers_of(made)["dlq.truncated.parts"] == b"value,headers"
    assert "big" not in headers_of(made)
    assert made.value == b"v" * 10  # the room the headers left is the value's again
    huge = letter(b"k" * (2 * LIMIT), b"v", [("big", b"h" * LIMIT)])
    assert huge.size <= LIMIT
    assert headers_of(huge)["dlq.truncated.parts"] == b"value,headers,key"
    assert (huge.key or b"").startswith(b"kkk")


def test_the_minimal_form_has_no_value_and_no_original_headers() -> None:
    made = letter(b"k", b"{small", [("origin", b"test")], minimal=True)
    assert made.value == b""
    assert "origin" not in headers_of(made)
    assert headers_of(made)["dlq.truncated.parts"] == b"value,headers"
    assert headers_of(made)["dlq.sha256"] == hashlib.sha256(b"{small").hexdigest().encode()


def test_a_record_with_neither_key_nor_value_gets_an_empty_value_and_a_mark() -> None:
    made = letter(None, None, [])
    assert (made.key, made.value) == (None, b"")
    assert headers_of(made)["dlq.value_null"] == b"true"


def test_a_message_with_characters_utf8_cannot_carry_is_escaped_not_refused() -> None:
    dead = DeadLetter(Record(P, 1, None, b"x"), "internal_error", "bad \ud800 text")
    made = letter_of(dead, now=b"t", limit=LIMIT)
    assert headers_of(made)["dlq.message"] == b"bad \\ud800 text"


@settings(deadline=None, max_examples=60)
@given(
    key=st.none() | st.binary(max_size=3 * LIMIT),
    value=st.none() | st.binary(max_size=3 * LIMIT),
    headers=st.lists(st.tuples(st.text(max_size=50), st.binary(max_size=LIMIT)), max_size=4),
    minimal=st.booleans(),
)
def test_every_letter_fits_whatever_the_record(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]], minimal: bool
) -> None:
    made = letter(key, value, headers, minimal=minimal)
    assert made.size <= LIMIT
    assert not (made.key is None and made.value is None)
