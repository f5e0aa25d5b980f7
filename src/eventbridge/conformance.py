"""Every adapter and every fake is its port: mypy checks these assignments; nothing runs here.

Run by `make lint` (mypy strict over src). Add a line when a port, adapter or fake is added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.clock import SystemClock
    from adapters.kafka.dead_letters import AiokafkaDeadLetters
    from adapters.kafka.source import AiokafkaEventSource
    from adapters.redis.store import RedisStreamStore
    from adapters.telemetry.memory import InMemoryTelemetry
    from adapters.telemetry.otel import OtelTelemetry
    from adapters.telemetry.tracing import OtelPublishTrace
    from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
    from application.ports import (
        Clock,
        DeadLetters,
        EventSource,
        PublishTrace,
        StreamStore,
        Telemetry,
        Untraced,
    )


def _bridge_adapters_are_their_ports(
    *,
    source: AiokafkaEventSource,
    store: RedisStreamStore,
    dead_letters: AiokafkaDeadLetters,
    telemetry: OtelTelemetry,
    memory: InMemoryTelemetry,
    trace: OtelPublishTrace,
    clock: SystemClock,
) -> None:
    as_source: EventSource = source
    as_store: StreamStore = store
    as_dead_letters: DeadLetters = dead_letters
    as_telemetry: Telemetry = telemetry
    as_memory: Telemetry = memory
    as_trace: PublishTrace = trace
    as_clock: Clock = clock
    del as_source, as_store, as_dead_letters, as_telemetry, as_memory, as_trace, as_clock


def _bridge_fakes_are_their_ports(
    *,
    source: FakeEventSource,
    store: FakeStreamStore,
    dead_letters: FakeDeadLetters,
    untraced: Untraced,
    clock: FakeClock,
) -> None:
    as_source: EventSource = source
    as_store: StreamStore = store
    as_dead_letters: DeadLetters = dead_letters
    as_trace: PublishTrace = untraced
    as_clock: Clock = clock
    del as_source, as_store, as_dead_letters, as_trace, as_clock
