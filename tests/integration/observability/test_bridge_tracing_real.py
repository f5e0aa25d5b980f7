"""A traceparent on a Kafka record is the parent of the bridge span, and Redis carries it on."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from dependency_injector import providers
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.setup import build_providers
from eventbridge.container import Application
from eventbridge.runtime import run_bridge
from eventbridge.settings import EventBridgeSettings
from simulator.genesis import generate_n
from simulator.produce import produce_all
from simulator.services import Services
from tests.integration.bridge_env import BridgeRun

pytestmark = pytest.mark.timeout(120)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def stream_entries(redis_url: str, prefix: str) -> dict[str, dict[bytes, bytes]]:
    """{event_id: stream entry fields, plus b"id": the entry id} under `prefix`."""
    client: Any = aioredis.Redis.from_url(redis_url)
    out: dict[str, dict[bytes, bytes]] = {}
    try:
        async for key in client.scan_iter(match=f"{prefix}*:stream", count=1000):
            for entry_id, fields in await client.xrange(key):
                out[fields[b"i"].decode()] = {**fields, b"id": entry_id}
    finally:
        await client.aclose()
    return out


def test_a_kafka_traceparent_is_continued_by_the_bridge_span_into_the_redis_stream(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    run = BridgeRun(real_services, unique, tmp_path)
    traffic = []
    upstream: dict[str, str] = {}  # upstream span id -> record value's event id
    trace_in_data: dict[str, str] = {}  # the envelope's own trace id wins over the traceparent
    for i, r in enumerate(generate_n(120, seed=41, users=5, bad_ratio=0.0)):
        span_id = f"{i + 1:016x}"
        headers = tuple(h for h in r.headers if h[0] != "traceparent")
        headers += (("traceparent", f"00-{TRACE}-{span_id}-01".encode()),)
        traffic.append(replace(r, headers=headers))
        value = orjson.loads(r.value)
        upstream[span_id] = value["event_id"]
        trace_in_data[value["event_id"]] = (value.get("metadata") or {}).get("trace_id") or TRACE
    delivered = {r.expect.event_id for r in traffic if r.expect.outcome == "delivered"}

    exporter = InMemorySpanExporter()
    tracing = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = build_providers(service_name="eventbridge", sample_ratio=0.0)
    settings = EventBridgeSettings(**run.settings)  # type: ignore[arg-type]
    container = Application(settings=settings)
    container.bridge.telemetry.override(
        providers.Object(
            OtelTelemetry(
                meter=metrics.meter_provider.get_meter("t"), tracer=tracing.get_tracer("t")
            )
        )
    )

    async def scenario() -> dict[str, dict[bytes, bytes]]:
        await run.create_topic()
        await produce_all(real_services.kafka_bootstrap, run.topic, traffic)
        stop = asyncio.Event()
        bridge = asyncio.create_task(run_bridge(settings, stop, container=container))
        try:
            await run.wait_drained(timeout_s=60)
        finally:
            stop.set()
            await asyncio.wait_for(bridge, 30)
        return await stream_entries(real_services.redis_url, run.prefix)

    entries = asyncio.run(scenario())
    metrics.shutdown()
    assert set(entries) == delivered
    assert delivered
    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}
    assert len(spans) == len(delivered)
    for span in spans.values():
        assert span.parent is not None
        assert span.parent.is_remote
        assert span.context.trace_id == int(TRACE, 16)
        event_id = upstream[f"{span.parent.span_id:016x}"]
        assert span.attributes is not None
        assert span.attributes["messaging.message.id"] == event_id
        assert span.attributes["messaging.destination.name"] == run.topic
        assert isinstance(span.attributes["messaging.kafka.offset"], int)
        fields = entries[event_id]
        assert span.attributes["eventbridge.stream_id"] == fields[b"id"].decode()
        # `tp` is the producer's traceparent: the gateway's span will be the bridge span's
        # sibling under the producer's span (docs/metrics.md, "Traces").
        assert fields[b"tp"].decode() == f"00-{TRACE}-{span.parent.span_id:016x}-01"
        assert orjson.loads(fields[b"d"])["trace_id"] == trace_in_data[event_id]
    from_traceparent = [e for e, t in trace_in_data.items() if t == TRACE and e in delivered]
    assert from_traceparent, "some events have no envelope trace id: theirs comes from traceparent"
