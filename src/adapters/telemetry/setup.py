"""TelemetryProviders: the process's MeterProvider and TracerProvider, Prometheus and OTLP wired.

Nothing here touches OpenTelemetry's or prometheus_client's global state: the providers and a
private CollectorRegistry are built for the process and handed to the adapters that need them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from prometheus_client import CollectorRegistry

log = logging.getLogger("eventbridge.telemetry")

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SAMPLER_ENV = "OTEL_TRACES_SAMPLER"  # "always_off" turns tracing off: no spans, no propagation


@dataclass(slots=True)
class TelemetryProviders:
    """One process's meters, tracers and the registry its `/metrics` route exposes."""

    meter_provider: MeterProvider
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    sample_ratio: float
    otlp: bool = False
    tracing: bool = True
    _closed: bool = field(default=False, repr=False)

    def shutdown(self) -> None:
        """Flush and stop exporters once (OTLP batches still queued are sent here)."""
        if self._closed:
            return
        self._closed = True
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def build_providers(
    *,
    service_name: str,
    sample_ratio: float,
    otlp_endpoint: str | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
    tracing: bool = True,
) -> TelemetryProviders:
    """Providers with a Prometheus reader on a private registry, and OTLP when an endpoint is set.

    Sampling is ParentBased(TraceIdRatioBased(sample_ratio)): an upstream decision carried in
    a traceparent is kept; a trace the bridge or gateway starts itself is sampled at the ratio.
    The OTLP exporters read the standard `OTEL_EXPORTER_OTLP_*` variables themselves.
    """
    resource = Resource.create({"service.name": service_name})
    registry = CollectorRegistry(auto_describe=True)
    readers: list[MetricReader] = [
        PrometheusMetricReader(registry=registry, scope_info_enabled=False),
        *metric_readers,
    ]
    tracer_provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(sample_ratio))
    )
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    if otlp_endpoint:
        # Imported only when used: the exporters pull in protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("otlp export on", extra={"endpoint": otlp_endpoint})
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return TelemetryProviders(
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
        registry=registry,
        sample_ratio=sample_ratio,
        otlp=bool(otlp_endpoint),
        tracing=tracing,
    )


@contextmanager
def providers_open(
    *,
    service_name: str,
    sample_ratio: float,
    otlp_endpoint: str | None = None,
    tracing: bool = True,
) -> Iterator[TelemetryProviders]:
    """`build_providers` as a context manager that shuts the providers down on exit."""
    built = build_providers(
        service_name=service_name,
        sample_ratio=sample_ratio,
        otlp_endpoint=otlp_endpoint,
        tracing=tracing,
    )
    try:
        yield built
    finally:
        built.shutdown()
