"""Checked by mypy (never run): every gateway adapter and fake is its port.

A fake that drifts from its Protocol (a method renamed, a parameter added) fails `make lint`
here, before a contract suite runs it. Bridge ports may join below.
"""

from __future__ import annotations

from adapters.clock import SystemClock
from adapters.redis.leases import RedisLeases
from adapters.redis.notifications import RedisNotifications
from adapters.redis.stream_reader import RedisStreamReader
from adapters.redis.tickets import RedisTickets
from adapters.telemetry.gateway import OtelGatewayTelemetry
from application.fake_clock import FakeClock
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
from application.ports import Clock


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
