"""The Kafka headers the bridge reads, found in one pass over a record's headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from domain.tracecontext import TRACEPARENT, TraceParent, read_traceparent

CORRELATION_ID = "correlation_id"
_NONE: Mapping[str, str] = MappingProxyType({})


def known_headers(
    headers: Sequence[tuple[str, bytes | None]],
) -> tuple[Mapping[str, str], TraceParent | None]:
    """The last `correlation_id` header (UTF-8, bad bytes replaced), as the filter's header
    mapping, and the last `traceparent` header read as a TraceParent (None when malformed).
    A header without a value counts as absent, and hides earlier ones of its name."""
    found = dict(headers)  # in C; the last of each name wins, a None value included
    correlation = found.get(CORRELATION_ID)
    traceparent = found.get(TRACEPARENT)
    return (
        {CORRELATION_ID: correlation.decode("utf-8", "replace")}
        if correlation is not None
        else _NONE,
        read_traceparent(traceparent) if traceparent is not None else None,
    )
