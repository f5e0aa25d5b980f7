"""Hand-written fakes of the gateway's ports, held to the real adapters by tests/contracts.

(FakeStreamReader and FakeNotifications have modules of their own.)"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence

from application.gateway.counts import GatewayCounts
from application.gateway.fake_notifications import FakeNotifications
from application.gateway.ports import LeaseRefused
from application.ports import Clock, StoreUnavailable
from domain.gateway.credentials import Principal
from domain.gateway.leases import LeasePolicy

__all__ = ["FakeGatewayTelemetry", "FakeLeases", "FakeNotifications", "FakeTickets"]


class FakeLeases:
    """Leases in memory, by the rules of the lease scripts: a lease's score is its expiry in
    unix ms; one not after `now` no longer counts; renewal only updates leases that exist."""

    def __init__(self, policy: LeasePolicy) -> None:
        self._policy = policy
        self.leases: dict[str, dict[str, int]] = {}
        self.available = True

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("fake Redis is down")

    def _live(self, user: str, now: float) -> dict[str, int]:
        now_ms = LeasePolicy.now_ms(now)
        return {c: e for c, e in self.leases.get(user, {}).items() if e > now_ms}

    def _refuse_at_limit(self, live: dict[str, int], now: float) -> None:
        if len(live) >= self._policy.limit:
            wait_ms = min(live.values()) - LeasePolicy.now_ms(now)
            raise LeaseRefused(LeasePolicy.retry_after_s(wait_ms))

    async def acquire(self, user: str, conn_id: str, *, now: float) -> None:
        self._check()
        live = self.leases[user] = self._live(user, now)
        self._refuse_at_limit(live, now)
        live[conn_id] = self._policy.expiry_ms(now)

    async def check(self, user: str, *, now: float) -> None:
        self._check()
        self._refuse_at_limit(self._live(user, now), now)

    async def renew(self, leases: Sequence[tuple[str, str]], *, now: float) -> None:
        self._check()
        for user, conn_id in leases:
            held = self.leases.get(user, {})
            if conn_id in held:
                held[conn_id] = self._policy.expiry_ms(now)

    async def release(self, user: str, conn_id: str) -> None:
        self._check()
        self.leases.get(user, {}).pop(conn_id, None)

    async def release_all(self, leases: Sequence[tuple[str, str]]) -> None:
        self._check()
        for user, conn_id in leases:
            self.leases.get(user, {}).pop(conn_id, None)


class FakeTickets:
    """Tickets in memory, gone `ttl_s` after they were issued on `clock` (Redis: `EX`)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tickets: dict[str, tuple[Principal, float]] = {}
        self.available = True

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("fake Redis is down")

    async def issue(self, principal: Principal, ttl_s: int) -> str:
        self._check()
        ticket = secrets.token_urlsafe(32)
        self._tickets[ticket] = (principal, self._clock.monotonic() + ttl_s)
        return ticket

    def _get(self, ticket: str, *, consume: bool) -> Principal | None:
        self._check()
        held = self._tickets.pop(ticket, None) if consume else self._tickets.get(ticket)
        if held is None or held[1] <= self._clock.monotonic():
            return None
        return held[0]

    async def peek(self, ticket: str) -> Principal | None:
        return self._get(ticket, consume=False)

    async def redeem(self, ticket: str) -> Principal | None:
        return self._get(ticket, consume=True)


class FakeGatewayTelemetry:
    """Running totals of what the gateway reported, for tests."""

    def __init__(self, *, keep_latencies: int = 100_000) -> None:
        self.opened = 0
        self.closed: Counter[str] = Counter()
        self.counts = GatewayCounts()
        self.rejections: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.stored_latencies: list[float] = []
        self._keep = keep_latencies

    @property
    def open_connections(self) -> int:
        return self.opened - sum(self.closed.values())

    def connection_opened(self) -> None:
        self.opened += 1

    def connection_closed(self, reason: str) -> None:
        self.closed[reason] += 1

    @property
    def sent_total(self) -> int:
        return self.counts.sent

    @property
    def notices(self) -> dict[str, int]:
        return dict(self.counts.notices)

    def latency(self, end_to_end_s: float | None, stored_s: float | None) -> None:
        if end_to_end_s is not None and len(self.latencies) < self._keep:
            self.latencies.append(end_to_end_s)
        if stored_s is not None and len(self.stored_latencies) < self._keep:
            self.stored_latencies.append(stored_s)

    def rejected(self, reason: str) -> None:
        self.rejections[reason] += 1

    def task_restarted(self, task: str) -> None:
        self.restarts[task] += 1

    def watch(self, counts: GatewayCounts) -> None:
        self.counts = counts
