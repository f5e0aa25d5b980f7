"""Bridge spans: a record's sampled traceparent is the parent of the bridge span, and travels on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from adapters.telemetry.memory import InMemoryTelemetry
from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.setup import build_providers
from adapters.telemetry.tracing import format_traceparent, parse_traceparent, start_publish
from application.fakes import FakeClock, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from application.ports import PublishResult
from domain.model import Partition, Record, SseMessage
from eventbridge.triager import build_triager
from simulator.genesis import generate_n
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"
SAMPLED = f"00-{TRACE}-{UPSTREAM_SPAN}-01"
NOT_SAMPLED = f"00-{TRACE}-{UPSTREAM_SPAN}-00"
P = Partition("genesis", 2)
SESSION = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def message(traceparent: str = "") -> SseMessage:
    data = b'{"event_id":"e1","payload":{}}'
    return SseMessage("u1", "s1", "e1", "Genesis.Session.Started", data, traceparent=traceparent)


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
    sent = message(traceparent=SAMPLED)
    trace = start_publish(provider.get_tracer("t"), [(record(41, SAMPLED), sent)])
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


def test_starting_spans_changes_nothing_that_is_written(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = spans
    sent = message(traceparent=SAMPLED)
    before = (sent.data, sent.traceparent)
    start_publish(provider.get_tracer("t"), [(record(41, SAMPLED), sent)])
    assert (sent.data, sent.traceparent) == before  # frozen, and never replaced either


def test_the_mapper_passes_a_sampled_traceparent_on_and_puts_every_trace_id_in_the_data() -> None:
    clock = FakeClock()
    triager = build_triager()
    sims = generate_n(3, seed=8, users=1, bad_ratio=0.0, clock=clock.wall)
    records = [
        Record(P, i, r.key, r.value, (("traceparent", tp.encode()),) if tp else ())
        for i, (r, tp) in enumerate(zip(sims, [SAMPLED, NOT_SAMPLED, None], strict=True))
    ]
    triage = triager.triage(triager.decode(records), now=clock.wall())
    triager.settle(triage, {})
    by_offset = {r.offset: m for r, m in triage.deliver}
    own = [(orjson.loads(r.value).get("metadata") or {}).get("trace_id") for r in sims]
    assert by_offset[0].traceparent == SAMPLED
    assert by_offset[1].traceparent == ""  # an unsampled trace gets no `tp` in the stream
    assert by_offset[2].traceparent == ""
    assert [orjson.loads(by_offset[i].data).get("trace_id") for i in range(3)] == [
        own[0] or TRACE,
        own[1] or TRACE,
        own[2],
    ]


def test_the_envelope_trace_id_wins_over_the_traceparent() -> None:
    clock = FakeClock()
    triager = build_triager()
    value = flat_event(clock.wall(), SESSION, "7", metadata={"user_id": "7", "trace_id": "own"})
    nested = b'"payload":{"trace_id":"x"}'
    deep = value[:-1] + b"," + nested + b"}"
    records = [
        Record(P, i, None, v, (("traceparent", SAMPLED.encode()),))
        for i, v in enumerate([value, deep])
    ]
    triage = triager.triage(triager.decode(records), now=clock.wall())
    datas = [orjson.loads(m.data) for _, m in triage.deliver]
    assert [d["trace_id"] for d in datas] == ["own", "own"]


def test_a_failed_write_ends_the_span_with_an_error(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    trace = start_publish(
        provider.get_tracer("t"), [(record(1, SAMPLED), message(traceparent=SAMPLED))]
    )
    trace.failed("Redis unavailable")
    assert only_span(exporter).status.status_code is StatusCode.ERROR


def traced_world(
    telemetry: Any, traceparent_of: Any
) -> tuple[FakeStreamStore, Any, dict[str, str | None]]:
    """40 simulated events through a bridge over fakes, a traceparent on every other record
    (`traceparent_of(i)`); the store, the bridge and the trace id each event's data must say."""
    clock = FakeClock()
    source = FakeEventSource(clock, [P])
    sims = generate_n(40, seed=3, users=2, bad_ratio=0.0, clock=clock.wall)
    expected_trace: dict[str, str | None] = {}  # the envelope's trace id, else the traceparent's
    for i, r in enumerate(sims):
        headers = tuple(h for h in r.headers if h[0] != "traceparent")
        if i % 2 == 0:
            headers += (("traceparent", traceparent_of(i).encode()),)
        source.append(P, r.key, r.value, headers)
        value = orjson.loads(r.value)
        own = (value.get("metadata") or {}).get("trace_id")
        expected_trace[value["event_id"]] = own or (TRACE if i % 2 == 0 else None)
    store = FakeStreamStore()
    bridge = bridge_over_fakes(
        clock, source, store=store, telemetry=telemetry, policy=BridgePolicy(max_batch=100)
    )

    async def one_batch() -> None:
        await bridge.step()
        await bridge.settle()

    asyncio.run(one_batch())
    return store, bridge, expected_trace


def test_through_the_bridge_service_the_stored_message_carries_the_upstream_traceparent(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    metrics = build_providers(service_name="t", sample_ratio=0.0)
    telemetry = OtelTelemetry(
        meter=metrics.meter_provider.get_meter("t"), tracer=provider.get_tracer("t")
    )
    store, bridge, expected_trace = traced_world(telemetry, lambda i: f"00-{TRACE}-{i + 1:016x}-01")
    metrics.shutdown()
    stored = {m.event_id: m for s in store.streams.values() for _, m in s.entries}
    by_parent = {f"{s.parent.span_id:016x}": s for s in exporter.get_finished_spans() if s.parent}
    traced = [m for m in stored.values() if m.traceparent]
    assert traced
    assert len(traced) == len(by_parent) == len(exporter.get_finished_spans())
    for m in traced:
        span = by_parent[m.traceparent.split("-")[2]]  # the bridge span is a child of `tp`
        assert span.attributes is not None
        assert span.attributes["messaging.message.id"] == m.event_id
        assert orjson.loads(m.data)["trace_id"] == expected_trace[m.event_id]
    assert TRACE in {orjson.loads(m.data)["trace_id"] for m in traced}
    assert bridge.health().publish_ok == 1


@pytest.mark.parametrize("tracing", ["off (no tracer)", "in memory"])
def test_with_tracing_off_the_trace_id_still_reaches_the_browser(tracing: str) -> None:
    """Before, the trace id went into the data only when telemetry rewrote the messages."""
    if tracing == "in memory":
        telemetry: Any = InMemoryTelemetry()
    else:
        metrics = build_providers(service_name="t", sample_ratio=0.0)
        telemetry = OtelTelemetry(meter=metrics.meter_provider.get_meter("t"), tracer=None)
    store, _, expected_trace = traced_world(telemetry, lambda i: f"00-{TRACE}-{i + 1:016x}-00")
    stored = [m for s in store.streams.values() for _, m in s.entries]
    assert stored
    assert any(expected_trace[m.event_id] == TRACE for m in stored)
    for m in stored:
        assert orjson.loads(m.data).get("trace_id") == expected_trace[m.event_id]
        assert m.traceparent == ""  # not sampled: nothing for the gateway to continue


def test_only_sampled_deliveries_are_handed_to_telemetry() -> None:
    telemetry = InMemoryTelemetry()
    flags = ["01" if i % 4 == 0 else "00" for i in range(40)]
    store, _, _ = traced_world(telemetry, lambda i: f"00-{TRACE}-{i + 1:016x}-{flags[i]}")
    stored = [m for s in store.streams.values() for _, m in s.entries]
    assert telemetry.traced == sum(1 for m in stored if m.traceparent) > 0
