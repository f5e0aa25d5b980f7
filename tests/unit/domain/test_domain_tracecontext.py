"""A record's traceparent and correlation id, read in one pass over its headers (pure)."""

from __future__ import annotations

import pytest

from domain.headers import known_headers
from domain.tracecontext import read_traceparent

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
