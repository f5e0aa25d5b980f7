"""GatewayTelemetry: what the SSE gateway reports, and an in-memory implementation."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Protocol

# The gateway's supervised background loops (adapters.gateway.gateway): a bounded label set.
BACKGROUND_TASKS = ("subscription", "tick", "lease_renewal")


def event_age(data: bytes, now: float) -> float | None:
    """Seconds since the `timestamp` inside the data JSON, found without decoding it all."""
    at = data.find(b'"timestamp":"')
    if at < 0:
        return None
    end = data.find(b'"', at + 13)
    try:
        return now - datetime.fromisoformat(data[at + 13 : end].decode()).timestamp()
    except ValueError:
        return None


class GatewayTelemetry(Protocol):
    """Gateway metrics by intent; never blocks, never raises, never takes a user id.

    `reason` values are a small fixed set (see `adapters.gateway.connection.CloseReason` and
    the rejection codes of `adapters.gateway.app`), so they are safe as metric labels.
    """

    def connection_opened(self) -> None: ...

    def connection_closed(self, reason: str) -> None: ...

    def sent(self, count: int, end_to_end_seconds: list[float]) -> None: ...

    def rejected(self, reason: str) -> None: ...

    def task_restarted(self, task: str) -> None: ...


class InMemoryGatewayTelemetry:
    """Running totals, for /readyz, tests and the benchmark."""

    def __init__(self, *, keep_latencies: int = 100_000) -> None:
        self.opened = 0
        self.closed: Counter[str] = Counter()
        self.sent_total = 0
        self.rejections: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self.latencies: list[float] = []
        self._keep = keep_latencies

    @property
    def open_connections(self) -> int:
        return self.opened - sum(self.closed.values())

    def connection_opened(self) -> None:
        self.opened += 1

    def connection_closed(self, reason: str) -> None:
        self.closed[reason] += 1

    def sent(self, count: int, end_to_end_seconds: list[float]) -> None:
        self.sent_total += count
        if len(self.latencies) < self._keep:
            self.latencies.extend(end_to_end_seconds)

    def rejected(self, reason: str) -> None:
        self.rejections[reason] += 1

    def task_restarted(self, task: str) -> None:
        self.restarts[task] += 1

    def snapshot(self) -> dict[str, object]:
        return {
            "connections": self.open_connections,
            "opened": self.opened,
            "closed": dict(self.closed),
            "sent": self.sent_total,
            "rejected": dict(self.rejections),
            "task_restarts": dict(self.restarts),
        }
