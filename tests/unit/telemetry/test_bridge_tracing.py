"""Bridge spans: a record's traceparent is the parent of the bridge span, which travels on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.setup import build_providers
from adapters.telemetry.tracing import (
    format_traceparent,
    parse_traceparent,
    start_publish,
    with_trace_id,
)
from application.fakes import FakeClock, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from application.ports import PublishResult, Untraced
from domain.model import Partition, Record, SseMessage
from simulator.genesis import generate_n
from tests.bridge_over_fakes import bridge_over_fakes

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"
SAMPLED = f"00-{TRACE}-{UPSTREAM_SPAN}-01"
NOT_SAMPLED = f"00-{TRACE}-{UPSTREAM_SPAN}-00"
P = Partition("genesis", 2)


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def message(event_id: str = "e1", data: bytes = b'{"event_id":"e1","payload":{}}') -> SseMessage:
    return SseMessage("u1", "s1", event_id, "Genesis.Session.Started", data)


def record(offset: int, traceparent: str | None) -> Record:
    headers = (("event_type", b"x"),) + (
        (("traceparent", traceparent.encode()),) if traceparent else ()
    )
    return Record(P, offset, b"k", b"{}", headers)


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_traceparent_parses_and_formats_back() -> None:
    context = parse_traceparent(SAMPLED.encode())
    assert context is not None
    assert context.is_remote
    assert context.trace_flags.sampled
    assert format_traceparent(context) == SAMPLED


@pytest.mark.parametrize(
    "bad",
    ["", "00-xyz", f"00-{'0' * 32}-{UPSTREAM_SPAN}-01", f"ff-{TRACE}-{UPSTREAM_SPAN}-01",
     f"00-{TRACE.upper()}-{UPSTREAM_SPAN}-01", f"00-{TRACE}-{UPSTREAM_SPAN}"],
)  # fmt: skip
def test_a_malformed_traceparent_is_no_parent(bad: str) -> None:
    assert parse_traceparent(bad) is None


def test_a_sampled_traceparent_becomes_the_parent_of_the_bridge_span(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    trace = start_publish(provider.get_tracer("t"), [(record(41, SAMPLED), message())])
    trace.succeeded([PublishResult("e1", "1700000000000-0", duplicate=False)])
    span = only_span(exporter)
    assert span.parent is not None
    assert span.parent.is_remote
    assert f"{span.parent.span_id:016x}" == UPSTREAM_SPAN
    assert f"{span.context.trace_id:032x}" == TRACE
    assert span.kind is SpanKind.CONSUMER
    assert span.attributes is not None
    assert span.attributes["messaging.destination.name"] == "genesis"
    assert span.attributes["messaging.destination.partition.id"] == "2"
    assert span.attributes["messaging.kafka.offset"] == 41
    assert span.attributes["eventbridge.event_type"] == "Genesis.Session.Started"
    assert span.attributes["eventbridge.stream_id"] == "1700000000000-0"
    (sent,) = trace.messages
    assert sent.trace["traceparent"] == f"00-{TRACE}-{span.context.span_id:016x}-01"
    assert orjson.loads(sent.data)["trace_id"] == TRACE


def test_an_unsampled_parent_records_no_span_but_still_passes_the_trace_on(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    trace = start_publish(provider.get_tracer("t"), [(record(1, NOT_SAMPLED), message())])
    trace.succeeded([PublishResult("e1", "1-0", duplicate=False)])
    assert exporter.get_finished_spans() == ()
    (sent,) = trace.messages
    assert sent.trace["traceparent"].startswith(f"00-{TRACE}-")
    assert sent.trace["traceparent"].endswith("-00")
    assert orjson.loads(sent.data)["trace_id"] == TRACE


def test_records_without_a_traceparent_are_published_untouched(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _exporter = spans
    plain = message()
    trace = start_publish(provider.get_tracer("t"), [(record(1, None), plain)])
    assert isinstance(trace, Untraced)
    assert trace.messages[0] is plain


def test_the_envelope_trace_id_wins_over_the_traceparent() -> None:
    data = b'{"event_id":"e1","trace_id":"from-envelope","payload":{"trace_id":"x"}}'
    assert with_trace_id(data, TRACE) == data
    nested_only = b'{"event_id":"e1","payload":{"trace_id":"x"}}'
    assert orjson.loads(with_trace_id(nested_only, TRACE))["trace_id"] == TRACE


def test_a_failed_write_ends_the_span_with_an_error(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    trace = start_publish(provider.get_tracer("t"), [(record(1, SAMPLED), message())])
    trace.failed("Redis unavailable")
    assert only_span(exporter).status.status_code is StatusCode.ERROR


def test_through_the_bridge_service_the_stored_message_carries_the_bridge_span(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    clock = FakeClock()
    source = FakeEventSource(clock, [P])
    sims = generate_n(40, seed=3, users=2, bad_ratio=0.0, clock=clock.wall)
    expected_trace: dict[str, str | None] = {}  # the envelope's trace id, else the traceparent's
    for i, r in enumerate(sims):
        headers = tuple(h for h in r.headers if h[0] != "traceparent")
        if i % 2 == 0:
            headers += (("traceparent", f"00-{TRACE}-{i + 1:016x}-01".encode()),)
        source.append(P, r.key, r.value, headers)
        value = orjson.loads(r.value)
        own = (value.get("metadata") or {}).get("trace_id")
        expected_trace[value["event_id"]] = own or (TRACE if i % 2 == 0 else None)
    store = FakeStreamStore()
    metrics = build_providers(service_name="t", sample_ratio=0.0)
    bridge = bridge_over_fakes(
        clock,
        source,
        store=store,
        telemetry=OtelTelemetry(
            meter=metrics.meter_provider.get_meter("t"), tracer=provider.get_tracer("t")
        ),
        policy=BridgePolicy(max_batch=100),
    )

    async def one_batch() -> None:
        await bridge.step()
        await bridge.settle()

    asyncio.run(one_batch())
    metrics.shutdown()
    stored = {m.event_id: m for s in store.streams.values() for _, m in s.entries}
    finished = {f"{s.context.span_id:016x}": s for s in exporter.get_finished_spans()}
    traced = [m for m in stored.values() if m.trace]
    assert traced
    assert len(traced) == len(finished)
    for m in traced:
        span_id = m.trace["traceparent"].split("-")[2]
        span = finished[span_id]
        assert span.attributes is not None
        assert span.attributes["messaging.message.id"] == m.event_id
        assert orjson.loads(m.data)["trace_id"] == expected_trace[m.event_id]
    assert TRACE in {orjson.loads(m.data)["trace_id"] for m in traced}
    assert bridge.health().publish_ok == 1
