"""Bridge spans: a record's sampled W3C traceparent continued by a span around its Redis write.

The application hands over only the deliveries whose record carries a sampled traceparent
(`SseMessage.traceparent`); each gets a CONSUMER span whose parent is that upstream context, so
the upstream sampling decision is kept (ParentBased sampler). Telemetry observes and nothing
else: what is written — the upstream traceparent as the stream field `tp`, the trace id in the
SSE data — is the domain mapper's, the same with tracing on or off (docs/metrics.md, "Traces").
"""

from __future__ import annotations

from collections.abc import Sequence

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

from application.ports import UNTRACED, PublishResult, PublishTrace
from domain.model import Record, SseMessage
from domain.tracecontext import TraceParent, read_traceparent


def span_context(traceparent: TraceParent) -> SpanContext:
    """The remote parent context of a traceparent (built only for sampled traces: not cheap)."""
    return SpanContext(
        int(traceparent.trace_id, 16),
        int(traceparent.span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(traceparent.flags),
    )


def parse_traceparent(value: bytes | str | None) -> SpanContext | None:
    """A remote SpanContext from a W3C traceparent, or None when malformed."""
    traceparent = read_traceparent(value)
    return span_context(traceparent) if traceparent is not None else None


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


class OtelPublishTrace:
    """The spans of one publish attempt, each with the index of its delivery's result."""

    def __init__(self, spans: list[tuple[int, Span]]) -> None:
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


def start_publish(tracer: Tracer, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
    """Start a CONSUMER span per delivery, parented on its record's (sampled) traceparent."""
    spans: list[tuple[int, Span]] = []
    for index, (record, message) in enumerate(traced):
        upstream = read_traceparent(message.traceparent)
        if upstream is None:  # not one the mapper passes on: nothing to continue
            continue
        span = tracer.start_span(
            f"process {record.partition.topic}",
            context=set_span_in_context(NonRecordingSpan(span_context(upstream))),
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
    return OtelPublishTrace(spans) if spans else UNTRACED
