"""`parse_id` accepts exactly the stream ids Redis accepts: `<ms>-<seq>`, ASCII digits, 64 bits."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.gateway.stream_ids import parse_id

pytestmark = pytest.mark.unit

U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(U64, U64)
def test_every_id_redis_can_issue_parses_to_its_two_parts(ms: int, seq: int) -> None:
    assert parse_id(f"{ms}-{seq}") == (ms, seq)
    assert parse_id(f"{ms}-{seq}".encode()) == (ms, seq)


@given(st.text())
@example("1-1\n")
@example("\u0661\u0662\u0663-\u0660")  # Arabic-Indic digits: `\d` matches them, Redis does not
@example("18446744073709551616-0")
@example("1-18446744073709551616")
@example(" 1-1")
@example("1-")
@example("-1")
@example("1")
def test_whatever_parses_is_a_canonical_ascii_id_in_range(text: str) -> None:
    parsed = parse_id(text)
    if parsed is not None:
        ms, seq = parsed
        assert 0 <= ms < 2**64
        assert 0 <= seq < 2**64
        head, _, tail = text.partition("-")
        assert text.isascii()
        assert head.isdigit()
        assert tail.isdigit()
        assert (int(head), int(tail)) == parsed


@given(U64, U64, st.sampled_from(["\n", "\r\n", " ", "\t", "x", "-0", "\x00"]))
def test_anything_after_a_valid_id_makes_it_malformed(ms: int, seq: int, suffix: str) -> None:
    assert parse_id(f"{ms}-{seq}{suffix}") is None


@given(st.integers(min_value=2**64, max_value=10**20 - 1), U64, st.booleans())
def test_a_part_past_64_bits_is_malformed(big: int, ok: int, big_first: bool) -> None:
    text = f"{big}-{ok}" if big_first else f"{ok}-{big}"
    assert parse_id(text) is None


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=5))
def test_digits_of_other_scripts_are_malformed(digits: str) -> None:
    text = f"{digits}-{digits}"
    assert (parse_id(text) is not None) == digits.isascii()


def test_bytes_that_are_not_ascii_are_malformed() -> None:
    assert parse_id(b"\xd9\xa1-\xd9\xa1") is None
    assert parse_id(b"\xff") is None
