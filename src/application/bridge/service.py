"""BridgeService: the loop that feeds the pipeline, and the rebalances (SPEC §1, §5, §7)."""

from __future__ import annotations

import asyncio
import logging

from application.bridge.accounts import Accounts
from application.bridge.backlog import Backlog
from application.bridge.commits import Commits
from application.bridge.feed import Feed
from application.bridge.pipeline import Pipeline
from application.bridge.writes import Writer
from application.policy import BridgePolicy
from application.ports import (
    BatchReport,
    BridgeHealth,
    Clock,
    DeadLetters,
    EventSource,
    StreamStore,
    Telemetry,
)
from application.telemetry_guard import guarded
from application.triage import Triager
from domain.breaker import BreakerState, CircuitBreaker
from domain.model import Partition
from domain.offsets import OffsetTracker

log = logging.getLogger("eventbridge.bridge")


class BridgeService:
    """Consumes the domain topic and delivers each event to its user's stream exactly once.

    Records become finished (and so committable) only when Redis acknowledged them, or they
    were ignored, or the dead-letter topic acknowledged them. While Redis is unavailable the
    `pause` policy keeps the unfinished batch in memory, pauses every assigned partition and
    retries when the breaker's cool-down timer lets a probe through; `drop` counts and commits.
    How a batch goes is the pipeline's (`pipeline.py`); what waits, the backlog's; what is
    finished, the bookkeeping's; when it is committed, the commits'.
    """

    def __init__(
        self,
        *,
        source: EventSource,
        store: StreamStore,
        dead_letters: DeadLetters,
        telemetry: Telemetry,
        clock: Clock,
        breaker: CircuitBreaker,
        triager: Triager,
        policy: BridgePolicy,
    ) -> None:
        telemetry = guarded(telemetry)  # a telemetry bug never kills or misleads the bridge
        self._source = source
        self._clock = clock
        self._breaker = breaker
        self._policy = policy
        self._tracker = OffsetTracker()
        self._backlog = Backlog(source=source, telemetry=telemetry, clock=clock, policy=policy)
        self._accounts = Accounts(
            tracker=self._tracker,
            triager=triager,
            breaker=breaker,
            backlog=self._backlog,
            telemetry=telemetry,
            clock=clock,
        )
        self._commits = Commits(source=source, tracker=self._tracker, clock=clock, policy=policy)
        writer = Writer(store=store, dead_letters=dead_letters, telemetry=telemetry, clock=clock)
        self._pipeline = Pipeline(
            triager=triager,
            store=store,
            writer=writer,
            accounts=self._accounts,
            backlog=self._backlog,
            breaker=breaker,
            clock=clock,
            policy=policy,
        )
        self._lock = asyncio.Lock()
        self._feed = Feed(
            source=source,
            tracker=self._tracker,
            pipeline=self._pipeline,
            lock=self._lock,
            clock=clock,
            policy=policy,
        )
        self._closed = False
        self._unassigned_since: float | None = clock.monotonic()
        source.on_rebalance(revoked=self._on_revoked, assigned=self._on_assigned)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    @property
    def totals(self) -> BatchReport:
        return self._accounts.totals

    def health(self) -> BridgeHealth:
        """What /readyz and the gauges report: no I/O, safe to call at any time."""
        now = self._clock.monotonic()
        assigned = self._source.assignment()
        since = None if assigned else self._unassigned_since
        waiting = self._tracker.in_flight() > 0
        return BridgeHealth(
            breaker_state=self._breaker.state.value,
            failure_rate=self._breaker.failure_rate(now),
            totals=self.totals,
            publish_ok=self._accounts.publish_ok,
            publish_failed=self._accounts.publish_failed,
            lag=self._source.lag(),
            assigned=len(assigned),
            paused=len(self._source.paused()),
            backlog=len(self._backlog),
            seconds_without_assignment=0.0 if since is None else now - since,
            backlog_bytes=self._backlog.bytes,
            stalled_s=now - self._accounts.moved_at if waiting else 0.0,
            dead_letters_error=self._accounts.dead_letters_error,
            replica_shortfalls=self._accounts.replica_shortfalls,
            replica_shortfall=self._accounts.replica_shortfall,
        )

    async def run(self, stop: asyncio.Event, *, max_steps: int | None = None) -> None:
        """Loop until `stop` is set (or `max_steps` ran), then drain and commit once."""
        steps = 0
        try:
            while not stop.is_set() and (max_steps is None or steps < max_steps):
                await self.step()
                steps += 1
        finally:
            await self.drain()

    async def step(self) -> None:
        """One turn: let the breaker's timer act, then retry the backlog or take a new batch.

        A new batch is triaged while the previous batch's write is still in flight, so the CPU
        work of one batch overlaps the Redis and dead-letter round trips of the one before; the
        writes themselves stay one at a time, in fetch order. `settle()` waits for the last one.
        A triaged batch never waits for records that have not arrived (`feed.py`).
        """
        now = self._clock.monotonic()
        self._accounts.note(self._breaker.poll(now))
        if not self._tracker.in_flight():
            self._accounts.moved_at = now  # nothing waits: nothing can be stalled
        backlog = self._backlog
        if backlog:
            async with self._lock:
                await self._pipeline.flush()  # a failed write kept its records: none in flight
        if backlog and backlog.due(now) and self._breaker.allow(now):
            async with self._lock:
                await self._pipeline.one_at_a_time(backlog.records, retry=True)
        elif backlog and backlog.holds_partitions():
            # Partitions are paused, so this only waits (and keeps the group membership).
            await self._idle(self._wait_s(now))
        elif not await self._feed.next_batch():
            # Caught up: finish the last write and commit it now, not an interval later.
            async with self._lock:
                await self._pipeline.flush()
            await self._commits.maybe(force=True)  # never under the lock: see _on_revoked
            return
        await self._commits.maybe(force=False)

    async def settle(self) -> None:
        """Everything in flight done: the writes booked and the commit in flight answered."""
        async with self._lock:
            await self._pipeline.flush()
        await self._commits.settle()

    def _wait_s(self, now: float) -> float:
        due = self._breaker.probe_due_at
        target = (
            due
            if self._breaker.state is BreakerState.OPEN and due is not None
            else self._backlog.retry_at
        )
        return min(max(target - now, 0.0), self._policy.fetch_timeout_s * 5)

    async def _idle(self, seconds: float) -> None:
        records, _ = await self._feed.fetch(max(seconds, 0.01))
        if records:  # a partition assigned during the outage, fetched before we paused it
            self._backlog.keep(records, retry=False)  # behind the rest, partitions paused

    async def _on_revoked(self, partitions: frozenset[Partition]) -> None:
        async with self._lock:
            await self._pipeline.flush()
            await self._commits.revoked(partitions)
            # Unfinished work of revoked partitions is abandoned: the next owner gets it again
            # from the committed offset, and idempotent writes make the redelivery harmless.
            self._backlog.forget(partitions)
            self._feed.forget(partitions)
            self._tracker.forget(partitions)
            if not self._source.assignment() - partitions:
                self._unassigned_since = self._clock.monotonic()
            log.info("partitions revoked", extra={"partitions": len(partitions)})

    async def _on_assigned(self, partitions: frozenset[Partition]) -> None:
        self._unassigned_since = None if partitions else self._clock.monotonic()
        self._backlog.assigned(partitions)
        log.info("partitions assigned", extra={"partitions": len(partitions)})

    async def drain(self) -> None:
        """Finish what can be finished, commit, and never run twice."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._feed.finish_ahead()
            await self._pipeline.flush()
            if self._backlog and self._breaker.allow(self._clock.monotonic()):
                await self._pipeline.one_at_a_time(self._backlog.records, retry=True)
        await self._commits.maybe(force=True)
