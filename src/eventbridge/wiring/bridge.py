"""Bridge: Kafka → filter → breaker → map → Redis, its adapters and its service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from dependency_injector import containers, providers

from adapters.kafka.admin import create_topics
from adapters.kafka.dead_letters import AiokafkaDeadLetters
from adapters.kafka.settings import KafkaSettings
from adapters.kafka.source import AiokafkaEventSource
from adapters.redis.store import RedisStreamStore
from adapters.telemetry.otel import OtelTelemetry
from application.bridge import BridgeService
from application.owners import OwnerCache
from application.policy import BridgePolicy, OpenPolicy
from domain.breaker import BreakerPolicy, CircuitBreaker
from eventbridge.redis_eviction import checked_client
from eventbridge.settings import BreakerSettings, EventBridgeSettings
from eventbridge.triager import build_triager
from eventbridge.wiring.core import meter_of, tracer_of


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
            settings.bootstrap_servers,
            {settings.dead_letter_topic: settings.dlq_partitions},
            replication_factor=settings.replication_factor,
            min_insync_replicas=settings.min_insync_replicas,
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
        retry_backoff_max_s=b.retry_backoff_max_s,
        max_backlog_records=b.max_backlog_records,
        max_backlog_bytes=b.max_backlog_bytes,
    )


class BridgeResource(providers.Resource[Any]):
    """A client the bridge process opens and closes."""


class Bridge(containers.DeclarativeContainer):
    """Kafka → filter → breaker → map → Redis: the bridge's adapters and its service."""

    core = providers.DependenciesContainer()
    settings = providers.Dependency(instance_of=EventBridgeSettings)

    telemetry = providers.Singleton(
        OtelTelemetry,
        meter=providers.Factory(meter_of, core.telemetry_providers, "eventbridge.bridge"),
        tracer=providers.Factory(tracer_of, core.telemetry_providers, "eventbridge.bridge"),
    )

    redis_client = BridgeResource(checked_client, settings=settings.provided.redis)
    stream_store = providers.Singleton(
        RedisStreamStore, client=redis_client, settings=settings.provided.redis
    )
    event_source = BridgeResource(kafka_source, settings=settings.provided.kafka)
    dead_letter_topic = BridgeResource(dead_letters, settings=settings.provided.kafka)

    owners = providers.Singleton(OwnerCache, max_sessions=settings.provided.bridge.owner_cache_size)
    triager = providers.Singleton(build_triager, settings.provided.filter, owners=owners)
    breaker = providers.Singleton(
        CircuitBreaker, policy=providers.Factory(breaker_policy, settings.provided.circuit_breaker)
    )
    service = providers.Singleton(
        BridgeService,
        source=event_source,
        store=stream_store,
        dead_letters=dead_letter_topic,
        telemetry=telemetry,
        clock=core.clock,
        breaker=breaker,
        triager=triager,
        policy=providers.Factory(bridge_policy, settings),
    )
