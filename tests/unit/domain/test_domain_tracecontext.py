"""A record's traceparent and correlation id, read in one pass over its headers (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.headers import known_headers
from domain.tracecontext import read_traceparent
from simulator.hostile import HOSTILE_TRACEPARENTS

pytestmark = pytest.mark.unit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("text", "sampled"),
    [(f"00-{TRACE}-{SPAN}-01", True), (f"00-{TRACE}-{SPAN}-00", False),
     (f"00-{TRACE}-{SPAN}-03", True), (f"01-{TRACE}-{SPAN}-01-future", True)],
)  # fmt: skip
def test_a_valid_traceparent_gives_its_trace_id_span_id_and_sampled_flag(
    text: str, sampled: bool
) -> None:
    parsed = read_traceparent(text.encode())
    assert parsed is not None
    assert (parsed.trace_id, parsed.span_id, parsed.sampled) == (TRACE, SPAN, sampled)
    assert parsed.text.startswith("00-") or parsed.text == text


@pytest.mark.parametrize(
    "bad",
    ["", "00-xyz", f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01",
     f"ff-{TRACE}-{SPAN}-01", f"00-{TRACE.upper()}-{SPAN}-01", f"00-{TRACE}-{SPAN}",
     f"00-{TRACE}-{SPAN}-01-extra", "\udcff" * 55],
)  # fmt: skip
def test_anything_else_is_no_traceparent(bad: str) -> None:
    assert read_traceparent(bad) is None
    assert read_traceparent(bad.encode("utf-8", "surrogateescape")) is None


@pytest.mark.parametrize("kind", sorted(HOSTILE_TRACEPARENTS))
def test_the_shape_of_a_traceparent_with_dashes_for_hex_digits_is_no_traceparent(kind: str) -> None:
    assert read_traceparent(HOSTILE_TRACEPARENTS[kind]) is None
    assert read_traceparent(HOSTILE_TRACEPARENTS[kind].decode()) is None


_HEX = "0123456789abcdef"


@given(st.text(alphabet=_HEX + "-", min_size=55, max_size=55))
def test_any_traceparent_read_is_hex_in_every_field(text: str) -> None:
    # Dashes where the version-00 shape has them, anything of [0-9a-f-] elsewhere.
    text = f"{text[:2]}-{text[3:35]}-{text[36:52]}-{text[53:]}"
    parsed = read_traceparent(text.encode())
    if parsed is not None:
        fields = (parsed.text[:2], parsed.trace_id, parsed.span_id, parsed.text[53:55])
        assert all(f and not f.strip(_HEX) for f in fields), fields
        assert parsed.flags == int(parsed.text[53:55], 16)
        assert parsed.sampled == bool(parsed.flags & 1)


def test_the_last_header_of_each_name_counts_and_one_without_a_value_hides_the_others() -> None:
    tp = f"00-{TRACE}-{SPAN}-01".encode()
    headers = [
        ("correlation_id", b"first"),
        ("traceparent", b"junk"),
        ("correlation_id", b"caf\xc3\xa9 \xff"),
        ("traceparent", tp),
        ("x", b"y"),
    ]
    found, traceparent = known_headers(headers)
    assert dict(found) == {"correlation_id": "café \ufffd"}
    assert traceparent is not None
    assert traceparent.text == tp.decode()
    hidden, none = known_headers(
        [("correlation_id", b"c"), ("correlation_id", None), ("traceparent", None)]
    )
    assert dict(hidden) == {}
    assert none is None
