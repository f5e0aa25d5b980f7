"""Hand-written fakes of every port, shipped with the ports; unit and BDD tests share them.

Each stateful port's fake has its own module and one contract suite that runs against it and
the real adapter alike (tests/contracts), so it cannot drift from the real thing. The gateway's
fakes live beside their ports, in application.gateway; all are re-exported here.
"""

from __future__ import annotations

from application.fake_clock import FakeClock
from application.fake_dead_letters import FakeDeadLetters, WrittenLetter
from application.fake_source import FakeEventSource
from application.fake_store import FakeStreamStore
from application.gateway.fake_streams import FakeStreamReader
from application.gateway.fakes import (
    FakeGatewayTelemetry,
    FakeLeases,
    FakeNotifications,
    FakeTickets,
)

__all__ = [
    "FakeClock",
    "FakeDeadLetters",
    "FakeEventSource",
    "FakeGatewayTelemetry",
    "FakeLeases",
    "FakeNotifications",
    "FakeStreamReader",
    "FakeStreamStore",
    "FakeTickets",
    "WrittenLetter",
]
