"""Core: what both processes share (settings, the clock, the telemetry providers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.telemetry.setup import (
    OTLP_ENDPOINT_ENV,
    SAMPLER_ENV,
    TelemetryProviders,
    providers_open,
)
from eventbridge.settings import EventBridgeSettings, MetricsSettings


def service_name(settings: MetricsSettings, process: str) -> str:
    """`metrics.service_name`; a gateway on its own reports as `<service_name>-gateway`."""
    return f"{settings.service_name}-gateway" if process == "gateway" else settings.service_name


def open_telemetry(settings: MetricsSettings, process: str) -> Iterator[TelemetryProviders]:
    """The process's meter and tracer providers (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
    with providers_open(
        service_name=service_name(settings, process),
        sample_ratio=settings.trace_sample_ratio,
        otlp_endpoint=os.environ.get(OTLP_ENDPOINT_ENV) or None,
        tracing=os.environ.get(SAMPLER_ENV) != "always_off",
    ) as built:
        yield built


def meter_of(built: TelemetryProviders, name: str) -> Any:
    return built.meter_provider.get_meter(name)


def tracer_of(built: TelemetryProviders, name: str) -> Any:
    """The tracer, or None when tracing is off (then records' traceparents are not continued)."""
    return built.tracer_provider.get_tracer(name) if built.tracing else None


class Core(containers.DeclarativeContainer):
    """What both processes share: the settings, the clock, the telemetry providers."""

    settings = providers.Dependency(instance_of=EventBridgeSettings)
    process = providers.Dependency(instance_of=str)  # "bridge", "gateway" or "run"

    clock = providers.Singleton(SystemClock)
    telemetry_providers = providers.Resource(
        open_telemetry, settings=settings.provided.metrics, process=process
    )
