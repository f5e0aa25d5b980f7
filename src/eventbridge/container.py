"""The composition root: a dependency-injector container that owns every client's lifecycle."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.kafka.admin import create_topics
from adapters.kafka.dead_letters import AiokafkaDeadLetters
from adapters.kafka.settings import KafkaSettings
from adapters.kafka.source import AiokafkaEventSource
from adapters.redis.client import open_client
from adapters.redis.store import RedisStreamStore
from adapters.telemetry.gateway import OtelGatewayTelemetry
from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.setup import (
    OTLP_ENDPOINT_ENV,
    SAMPLER_ENV,
    TelemetryProviders,
    providers_open,
)
from application.bridge import BridgeService
from application.owners import OwnerCache
from application.policy import BridgePolicy, OpenPolicy
from domain.breaker import BreakerPolicy, CircuitBreaker
from eventbridge.settings import BreakerSettings, EventBridgeSettings, MetricsSettings
from eventbridge.triager import build_triager


async def kafka_source(settings: KafkaSettings) -> AsyncIterator[AiokafkaEventSource]:
    source = AiokafkaEventSource(settings=settings)
    await source.start()
    try:
        yield source
    finally:
        await source.stop()


async def dead_letters(settings: KafkaSettings) -> AsyncIterator[AiokafkaDeadLetters]:
    if settings.create_dlq_topic:
        await create_topics(
            settings.bootstrap_servers, {settings.dead_letter_topic: settings.dlq_partitions}
        )
    producer = AiokafkaDeadLetters(settings=settings)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def breaker_policy(s: BreakerSettings) -> BreakerPolicy:
    """The SPEC §5 policy, or the seed's count-based one when its keys are given."""
    if s.failure_threshold is not None or s.recovery_timeout is not None:
        return BreakerPolicy.from_seed(
            failure_threshold=s.failure_threshold or s.minimum_calls,
            recovery_timeout=s.recovery_timeout or s.cool_down_s,
        )
    return BreakerPolicy(
        window_s=s.window_s,
        minimum_calls=s.minimum_calls,
        failure_rate_threshold=s.failure_rate_threshold,
        cool_down_s=s.cool_down_s,
    )


def bridge_policy(settings: EventBridgeSettings) -> BridgePolicy:
    b = settings.bridge
    return BridgePolicy(
        max_batch=b.max_batch,
        fetch_timeout_s=b.fetch_timeout_s,
        commit_every_records=b.commit_every_records,
        commit_interval_s=b.commit_interval_s,
        on_open=OpenPolicy(settings.circuit_breaker.policy),
        retry_backoff_s=b.retry_backoff_s,
        max_backlog_records=b.max_backlog_records,
    )


def open_telemetry(settings: MetricsSettings) -> Iterator[TelemetryProviders]:
    """The process's meter and tracer providers (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
    with providers_open(
        service_name=settings.service_name,
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


class Container(containers.DeclarativeContainer):
    """Wires settings slices into adapters and adapters into the application services."""

    settings = providers.Dependency(instance_of=EventBridgeSettings)

    clock = providers.Singleton(SystemClock)
    telemetry_providers = providers.Resource(open_telemetry, settings=settings.provided.metrics)
    telemetry = providers.Singleton(
        OtelTelemetry,
        meter=providers.Factory(meter_of, telemetry_providers, "eventbridge.bridge"),
        tracer=providers.Factory(tracer_of, telemetry_providers, "eventbridge.bridge"),
    )
    gateway_telemetry = providers.Singleton(
        OtelGatewayTelemetry,
        meter=providers.Factory(meter_of, telemetry_providers, "eventbridge.gateway"),
    )

    redis_client = providers.Resource(open_client, settings=settings.provided.redis)
    stream_store = providers.Singleton(
        RedisStreamStore, client=redis_client, settings=settings.provided.redis
    )
    event_source = providers.Resource(kafka_source, settings=settings.provided.kafka)
    dead_letter_topic = providers.Resource(dead_letters, settings=settings.provided.kafka)

    owners = providers.Singleton(OwnerCache, max_sessions=settings.provided.bridge.owner_cache_size)
    triager = providers.Singleton(build_triager, settings.provided.filter, owners=owners)
    breaker = providers.Singleton(
        CircuitBreaker, policy=providers.Factory(breaker_policy, settings.provided.circuit_breaker)
    )
    bridge = providers.Singleton(
        BridgeService,
        source=event_source,
        store=stream_store,
        dead_letters=dead_letter_topic,
        telemetry=telemetry,
        clock=clock,
        breaker=breaker,
        triager=triager,
        policy=providers.Factory(bridge_policy, settings),
    )
