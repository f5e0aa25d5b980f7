"""Reason codes and their verdicts."""

from __future__ import annotations

import sys

import pytest

from domain.reasons import VERDICT_OF, Reason, Rejection, Verdict, internal_error, shown

pytestmark = pytest.mark.unit


def test_only_unwanted_event_types_are_ignored() -> None:
    ignored = {reason for reason, verdict in VERDICT_OF.items() if verdict is Verdict.IGNORED}
    assert ignored == {Reason.NOT_SESSION_EVENT, Reason.NOT_WHITELISTED}


def test_every_reason_has_a_verdict() -> None:
    assert set(VERDICT_OF) == set(Reason)


def test_rejection_verdict_follows_its_reason() -> None:
    assert Rejection(Reason.NOT_WHITELISTED, "x").verdict is Verdict.IGNORED
    assert Rejection(Reason.OVERSIZED, "x").verdict is Verdict.INVALID


def test_reason_codes_are_stable_strings() -> None:
    assert Reason.NO_USER.value == "no_user"
    assert Reason.INVALID_UTF8.value == "invalid_utf8"
    assert f"{Verdict.IGNORED}" == "ignored"


def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "starts"),
    [
        (_nested(100_000), "[[[[[["),
        ({"a": _nested(5000)}, "{'a': [[[["),
        ("x" * 10_000_000, "'xxxx"),
        (b"\xff" * 1_000_000, "b'\\xff"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        ("\ud800 lone surrogate", "'\\ud800"),
        ({i: i for i in range(1_000_000)}, "{0: 0, 1: 1"),
        (set(range(10)), "{0, 1"),
        (object(), "<object>"),
    ],
)
def test_shown_renders_any_value_short_and_never_raises(value: object, starts: str) -> None:
    text = shown(value)
    assert text.startswith(starts)
    assert len(text) <= 64
    text.encode("utf-8")  # it can go into a Kafka header as it is


def test_shown_describes_an_integer_too_long_to_convert_to_text() -> None:
    sys.set_int_max_str_digits(0)
    try:
        huge = 10**5000
    finally:
        sys.set_int_max_str_digits(4300)
    assert shown(huge) == "<integer of about 5001 digits>"
    assert shown(2**64) == "18446744073709551616"


def test_shown_keeps_short_values_as_their_repr() -> None:
    value = {"a": [1, None, True], "b": "x"}
    assert shown(value) == repr(value)
    assert shown("abc", limit=10) == "'abc'"


def test_an_internal_error_names_the_exception_type_and_is_invalid() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message either")

    rejection = internal_error(RecursionError("maximum recursion depth exceeded"), "checking")
    assert rejection.reason is Reason.INTERNAL_ERROR
    assert rejection.verdict is Verdict.INVALID
    assert rejection.message.startswith("RecursionError: maximum recursion depth exceeded")
    assert internal_error(Broken(), "decoding").message == "Broken while decoding the record"
    assert len(internal_error(ValueError("v" * 10_000), "checking").message) < 200
