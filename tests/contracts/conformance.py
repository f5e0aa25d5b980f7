"""Checked by mypy (never run): every adapter and every fake is its port, bridge and gateway.

A fake that drifts from its Protocol (a method renamed, a parameter added) fails `make lint`
here, before a contract suite runs it. Add a line when a port, adapter or fake is added.
"""

from __future__ import annotations

from adapters.clock import SystemClock
from adapters.kafka.dead_letters import AiokafkaDeadLetters
from adapters.kafka.source import AiokafkaEventSource
from adapters.redis.leases import RedisLeases
from adapters.redis.notifications import RedisNotifications
from adapters.redis.store import RedisStreamStore
from adapters.redis.stream_reader import RedisStreamReader
from adapters.redis.tickets import RedisTickets
from adapters.telemetry.gateway import OtelGatewayTelemetry
from adapters.telemetry.memory import InMemoryTelemetry
from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.tracing import OtelPublishTrace
from application.fake_clock import FakeClock
from application.fake_dead_letters import FakeDeadLetters
from application.fake_source import FakeEventSource
from application.fake_store import FakeStreamStore
from application.gateway.fake_streams import FakeStreamReader
from application.gateway.fakes import (
    FakeGatewayTelemetry,
    FakeLeases,
    FakeNotifications,
    FakeTickets,
)
from application.gateway.ports import (
    GatewayTelemetry,
    Leases,
    Notifications,
    StreamReader,
    Tickets,
)
from application.ports import (
    Clock,
    DeadLetters,
    EventSource,
    PublishTrace,
    StreamStore,
    Telemetry,
    Untraced,
)


def clocks(real: SystemClock, fake: FakeClock) -> tuple[Clock, Clock]:
    return real, fake


def stream_readers(real: RedisStreamReader, fake: FakeStreamReader) -> tuple[StreamReader, ...]:
    return real, fake


def notifications(real: RedisNotifications, fake: FakeNotifications) -> tuple[Notifications, ...]:
    return real, fake


def leases(real: RedisLeases, fake: FakeLeases) -> tuple[Leases, Leases]:
    return real, fake


def tickets(real: RedisTickets, fake: FakeTickets) -> tuple[Tickets, Tickets]:
    return real, fake


def gateway_telemetry(
    real: OtelGatewayTelemetry, fake: FakeGatewayTelemetry
) -> tuple[GatewayTelemetry, GatewayTelemetry]:
    return real, fake


def event_sources(real: AiokafkaEventSource, fake: FakeEventSource) -> tuple[EventSource, ...]:
    return real, fake


def stream_stores(real: RedisStreamStore, fake: FakeStreamStore) -> tuple[StreamStore, ...]:
    return real, fake


def dead_letters(real: AiokafkaDeadLetters, fake: FakeDeadLetters) -> tuple[DeadLetters, ...]:
    return real, fake


def telemetry(real: OtelTelemetry, memory: InMemoryTelemetry) -> tuple[Telemetry, Telemetry]:
    return real, memory


def publish_traces(real: OtelPublishTrace, untraced: Untraced) -> tuple[PublishTrace, ...]:
    return real, untraced
