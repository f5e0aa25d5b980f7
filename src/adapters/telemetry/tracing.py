"""Bridge spans: a Kafka record's W3C traceparent continued through the Redis write.

Only records that carry a `traceparent` header get a span; its parent is the upstream context,
so the upstream sampling decision is kept (ParentBased sampler). The span's own traceparent
travels with the message into Redis (stream field `tp`), where the gateway continues it, and
the trace id is added to the SSE data when the envelope did not name one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    set_span_in_context,
)

from application.ports import PublishResult, PublishTrace, Untraced
from domain.model import Record, SseMessage

TRACEPARENT = "traceparent"
# version-trace_id-parent_id-flags; a later version may append fields after a dash.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_DASH, _HEX_AND_DASH = ord("-"), b"0123456789abcdef-"


@dataclass(slots=True)  # not frozen: built for every traced record, and frozen inits are slow
class Upstream:
    """A valid incoming traceparent: its text, its trace id, whether it was sampled."""

    text: str
    trace_id: str
    sampled: bool

    def context(self) -> SpanContext:
        """The remote parent context (built only for sampled traces: it is not cheap)."""
        span_hex = self.text[36:52]
        return SpanContext(
            int(self.trace_id, 16),
            int(span_hex, 16),
            is_remote=True,
            trace_flags=TraceFlags(int(self.text[53:55], 16)),
        )


def read_traceparent(value: bytes | str | None) -> Upstream | None:
    """A W3C traceparent (https://www.w3.org/TR/trace-context/), or None when malformed."""
    if value is None:
        return None
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value.strip()
    # The common version-00 shape, checked with C-speed bytes operations (hot path).
    if (
        len(raw) == 55
        and raw[2] == raw[35] == raw[52] == _DASH
        and not raw.translate(None, _HEX_AND_DASH)
        and raw[:2] != b"ff"
    ):
        text = raw.decode("ascii")
        trace_hex = text[3:35]
        if trace_hex == _ZERO_TRACE or text[36:52] == _ZERO_SPAN:
            return None
        return Upstream(text, trace_hex, bool(int(text[53:55], 16) & 1))
    return _read_other(raw.decode("ascii", "replace").strip())


def _read_other(text: str) -> Upstream | None:
    match = _TRACEPARENT.fullmatch(text)
    if match is None:
        return None
    version, trace_hex, span_hex, flags = match.groups()
    if version in ("00", "ff") or trace_hex == _ZERO_TRACE or span_hex == _ZERO_SPAN:
        return None  # a valid version 00 took the fast path; "ff" is forbidden
    return Upstream(f"00-{trace_hex}-{span_hex}-{flags}", trace_hex, bool(int(flags, 16) & 1))


def parse_traceparent(value: bytes | str | None) -> SpanContext | None:
    """A remote SpanContext from a W3C traceparent, or None when malformed."""
    upstream = read_traceparent(value)
    return upstream.context() if upstream is not None else None


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def with_trace_id(data: bytes, trace_id: str) -> bytes:
    """SSE data with `trace_id` added, unless the envelope already put one there."""
    if b'"trace_id"' in data and _has_top_level_trace_id(data):
        return data
    return b'%s,"trace_id":"%s"}' % (data[:-1], trace_id.encode())


def _has_top_level_trace_id(data: bytes) -> bool:
    try:
        return "trace_id" in orjson.loads(data)
    except orjson.JSONDecodeError:
        return True  # never touch data we cannot read


class OtelPublishTrace:
    """The spans of one publish attempt; `messages` carry their span's traceparent."""

    def __init__(self, messages: list[SseMessage], spans: list[tuple[int, Span]]) -> None:
        self.messages = messages
        self._spans = spans

    def succeeded(self, results: Sequence[PublishResult]) -> None:
        for index, span in self._spans:
            if span.is_recording():
                result = results[index]
                span.set_attribute("eventbridge.stream_id", result.stream_id)
                span.set_attribute("eventbridge.duplicate", result.duplicate)
            span.end()

    def failed(self, error: str) -> None:
        for _, span in self._spans:
            span.set_status(Status(StatusCode.ERROR, error))
            span.end()


def start_publish(tracer: Tracer, deliver: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
    """Start a CONSUMER span per record whose traceparent is sampled, parented on it.

    An unsampled upstream trace gets no span at all (the ParentBased sampler would drop it):
    its traceparent is passed on unchanged, so the gateway still continues the same trace.
    """
    messages: list[SseMessage] = []
    spans: list[tuple[int, Span]] = []
    traced = False
    for index, (record, message) in enumerate(deliver):
        raw = None
        for key, value in record.headers:
            if key == TRACEPARENT:
                raw = value
        upstream = read_traceparent(raw) if raw is not None else None
        if upstream is None:
            messages.append(message)
            continue
        traced = True
        if not upstream.sampled:
            messages.append(_traced(message, upstream.text, upstream.trace_id))
            continue
        span = tracer.start_span(
            f"process {record.partition.topic}",
            context=set_span_in_context(NonRecordingSpan(upstream.context())),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.partition.topic,
                "messaging.destination.partition.id": str(record.partition.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": message.event_id,
                "eventbridge.event_type": message.event_type,
            },
        )
        spans.append((index, span))
        messages.append(
            _traced(message, format_traceparent(span.get_span_context()), upstream.trace_id)
        )
    return OtelPublishTrace(messages, spans) if traced else Untraced(messages)


def _traced(message: SseMessage, traceparent: str, trace_id: str) -> SseMessage:
    trace = (
        {**message.trace, TRACEPARENT: traceparent} if message.trace else {TRACEPARENT: traceparent}
    )
    return SseMessage(
        message.user_id,
        message.session_id,
        message.event_id,
        message.event_type,
        with_trace_id(message.data, trace_id),
        message.teaches_owner,
        message.timestamp_s,
        trace,
    )
