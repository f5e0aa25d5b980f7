"""CPU cost of tracing on the bridge's hot path, in-process over the fakes (not a test).

Run: `.venv/bin/python -m tests.unit.telemetry.tracing_overhead`. Runs BridgeService.step over
simulated batches with OtelTelemetry (metrics) and a tracer (ParentBased(TraceIdRatioBased(
0.01)), BatchSpanProcessor into a discarding exporter), and measures the CPU time spent in the
tracing hooks (publish_started, then succeeded: the spans of sampled traces; the trace id in
the data and `tp` are the mapper's and cost the same with tracing off)
against the CPU time of the whole step, in the same run, so load from other processes on the
machine cancels out. Two traffics: the simulator's (about half the records carry a traceparent,
upstream sampled 1% of them) and the same records with every traceparent sampled (worst case).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.setup import build_providers
from application.fakes import FakeClock, FakeEventSource
from application.policy import BridgePolicy
from application.ports import PublishResult, PublishTrace, Telemetry
from domain.model import Partition, Record, SseMessage
from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from tests.bridge_over_fakes import bridge_over_fakes

P = Partition("genesis", 0)


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def run_once(records: list[SimRecord], telemetry: Telemetry, clock: FakeClock) -> float:
    source = FakeEventSource(clock, [P])
    for r in records:
        source.append(P, r.key, r.value, r.headers)
    bridge = bridge_over_fakes(
        clock, source, telemetry=telemetry, policy=BridgePolicy(max_batch=1000)
    )

    async def go() -> float:
        started = time.process_time()
        for _ in range(len(records) // 1000):
            await bridge.step()
        await bridge.settle()
        return len(records) / (time.process_time() - started)

    return asyncio.run(go())


def upstream_sampled_at(records: list[SimRecord], ratio: float) -> list[SimRecord]:
    """The records with every `1/ratio`-th traceparent sampled and the others not."""
    out, seen, every = [], 0, round(1 / ratio)
    for r in records:
        headers = []
        for key, value in r.headers:
            if key == "traceparent":
                seen += 1
                flags = b"01" if seen % every == 0 else b"00"
                headers.append((key, value[:-2] + flags))
            else:
                headers.append((key, value))
        out.append(replace(r, headers=tuple(headers)))
    return out


def main(n: int = 20_000, rounds: int = 7) -> None:
    logging.disable(logging.WARNING)
    clock = FakeClock()
    simulated = generate_n(n, seed=3, users=500, bad_ratio=0.02, clock=clock.wall)
    for label, records in (
        ("simulator traffic (upstream samples 1%)", simulated),
        ("every traceparent sampled (worst case)", upstream_sampled_at(simulated, 1.0)),
    ):
        compare(label, records, clock, rounds)


class TimedTracing:
    """OtelTelemetry whose tracing hooks add their CPU time to `seconds`."""

    def __init__(self, inner: OtelTelemetry) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def publish_started(self, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        started = time.process_time()
        trace = self.inner.publish_started(traced)
        self.seconds += time.process_time() - started
        return _TimedTrace(trace, self)


class _TimedTrace:
    def __init__(self, trace: PublishTrace, owner: TimedTracing) -> None:
        self.trace, self.owner = trace, owner

    def succeeded(self, results: Sequence[PublishResult]) -> None:
        started = time.process_time()
        self.trace.succeeded(results)
        self.owner.seconds += time.process_time() - started

    def failed(self, error: str) -> None:
        self.trace.failed(error)


def compare(label: str, records: list[SimRecord], clock: FakeClock, rounds: int) -> None:
    metrics = build_providers(service_name="bench", sample_ratio=0.01)
    tracing = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.01)))
    tracing.add_span_processor(BatchSpanProcessor(Discard()))
    shares = []
    for _ in range(rounds):
        timed = TimedTracing(
            OtelTelemetry(
                meter=metrics.meter_provider.get_meter("bench"), tracer=tracing.get_tracer("b")
            )
        )
        rate = run_once(records, cast(Telemetry, timed), clock)
        total = len(records) / rate
        shares.append(timed.seconds / (total - timed.seconds))
    sampled = sum((k, v[-2:]) == ("traceparent", b"01") for r in records for k, v in r.headers)
    carried = sum(k == "traceparent" for r in records for k, _ in r.headers)
    print(
        f"{label}: {len(records)} records, {carried} with a traceparent, {sampled} sampled; "
        f"tracing adds {100 * min(shares):.1f}% CPU per event "
        f"(median {100 * statistics.median(shares):.1f}%, best of {rounds})"
    )
    tracing.shutdown()
    metrics.shutdown()


if __name__ == "__main__":
    main()
