"""W3C trace context (https://www.w3.org/TR/trace-context/): a record's `traceparent` as a value."""

from __future__ import annotations

import re
from dataclasses import dataclass

TRACEPARENT = "traceparent"
# version-trace_id-parent_id-flags; a later version may append fields after a dash.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_DASH, _HEX_AND_DASH = ord("-"), b"0123456789abcdef-"
_SAMPLED_LAST_HEX = b"13579bdf"  # the flags' last hex digit when bit 0 (sampled) is set


@dataclass(slots=True)  # not frozen: built for every traced record, and frozen inits are slow
class TraceParent:
    """A valid traceparent in its version-00 form: its text, trace id and sampled flag."""

    text: str
    trace_id: str
    sampled: bool

    @property
    def span_id(self) -> str:
        """The parent span id (16 hex digits)."""
        return self.text[36:52]

    @property
    def flags(self) -> int:
        return int(self.text[53:55], 16)


def read_traceparent(value: bytes | str | None) -> TraceParent | None:
    """A traceparent is `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>` in lower case
    (a later version may append `-...`, read as version 00); an all-zero id, version `ff` or
    anything else makes it no traceparent at all (None)."""
    if value is None:
        return None
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value.strip()
    # The common version-00 shape, checked with C-speed bytes operations (hot path): exactly
    # the three dashes that separate the fields, every other byte a lower-case hex digit (a
    # dash where a digit belongs is no traceparent, and must never reach int(..., 16)).
    if (
        len(raw) == 55
        and raw[2] == raw[35] == raw[52] == _DASH
        and raw.count(b"-") == 3
        and not raw.translate(None, _HEX_AND_DASH)
        and raw[:2] != b"ff"
    ):
        text = raw.decode("ascii")
        trace_hex = text[3:35]
        if trace_hex == _ZERO_TRACE or text[36:52] == _ZERO_SPAN:
            return None
        return TraceParent(text, trace_hex, raw[54] in _SAMPLED_LAST_HEX)
    return _read_other(raw.decode("ascii", "replace").strip())


def _read_other(text: str) -> TraceParent | None:
    match = _TRACEPARENT.fullmatch(text)
    if match is None:
        return None
    version, trace_hex, span_hex, flags = match.groups()
    if version in ("00", "ff") or trace_hex == _ZERO_TRACE or span_hex == _ZERO_SPAN:
        return None  # a valid version 00 took the fast path; "ff" is forbidden
    return TraceParent(f"00-{trace_hex}-{span_hex}-{flags}", trace_hex, bool(int(flags, 16) & 1))
