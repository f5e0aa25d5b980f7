"""BridgeService: Kafka → filter → breaker → map → Redis, batch by batch (SPEC §1, §5, §7)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from application.outcome import BatchOutcome, log_fields
from application.policy import BridgePolicy, OpenPolicy
from application.ports import (
    BatchReport,
    BridgeHealth,
    Clock,
    DeadLetters,
    DeadLetterUnavailable,
    EventSource,
    SourceUnavailable,
    StoreUnavailable,
    StreamStore,
    Telemetry,
)
from application.triage import Decoded, Triage, Triager
from application.writes import Write, Writer
from domain.breaker import BreakerState, CircuitBreaker, Transition
from domain.model import Partition, Record
from domain.offsets import OffsetTracker

log = logging.getLogger("eventbridge.bridge")
TRIAGE_SLICE = 200  # records triaged between two yields to the event loop (~3 ms of CPU)


@dataclass(slots=True)
class _Ready:
    """A triaged batch waiting for its write (and for its owner lookup, if it asked one)."""

    records: Sequence[Record]
    decoded: Decoded
    triage: Triage
    lookup: asyncio.Future[dict[str, str]] | None


async def _answered(lookup: asyncio.Future[dict[str, str]] | None) -> None:
    """Wait for a lookup whose answer is no longer needed (the batch is decided again)."""
    if lookup is not None:
        with contextlib.suppress(StoreUnavailable):
            await lookup


class BridgeService:
    """Consumes the domain topic and delivers each event to its user's stream exactly once.

    Records become finished (and so committable) only when Redis acknowledged them, or they
    were ignored, or the dead-letter topic acknowledged them. While Redis is unavailable the
    `pause` policy keeps the unfinished batch in memory, pauses every assigned partition and
    retries when the breaker's cool-down timer lets a probe through; `drop` counts and commits.

    While Redis is healthy a batch moves through three stages that overlap with the batches
    around it (`_take`): decode and owner lookup, triage, and (in the next step) its write.
    Writes stay one at a time in fetch order; `flush()` finishes what is in flight, and
    `drain()` and revokes call it.
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
        self._source = source
        self._store = store
        self._telemetry = telemetry
        self._writer = Writer(
            store=store, dead_letters=dead_letters, telemetry=telemetry, clock=clock
        )
        self._clock = clock
        self._breaker = breaker
        self._triager = triager
        self._policy = policy
        self._tracker = OffsetTracker()
        self._lock = asyncio.Lock()
        self._writing: Write | None = None  # the last batch's write, in flight
        self._ready: _Ready | None = None  # triaged, written next
        self._committing: asyncio.Future[None] | None = None  # the commit in flight
        self._backlog: list[Record] = []  # fetched, not finished, waiting for Redis (pause policy)
        self._retry_at = 0.0
        self._last_commit = clock.monotonic()
        self._closed = False
        self.totals = BatchReport()
        self._publish_ok = 0
        self._publish_failed = 0  # failed Redis calls (publish or owner lookup), for health
        self._unassigned_since: float | None = clock.monotonic()
        source.on_rebalance(revoked=self._on_revoked, assigned=self._on_assigned)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def health(self) -> BridgeHealth:
        """What /readyz and the gauges report: no I/O, safe to call at any time."""
        now = self._clock.monotonic()
        assigned = self._source.assignment()
        since = None if assigned else self._unassigned_since
        return BridgeHealth(
            breaker_state=self._breaker.state.value,
            failure_rate=self._breaker.failure_rate(now),
            totals=self.totals,
            publish_ok=self._publish_ok,
            publish_failed=self._publish_failed,
            lag=self._source.lag(),
            assigned=len(assigned),
            paused=len(self._source.paused()),
            backlog=len(self._backlog),
            seconds_without_assignment=0.0 if since is None else now - since,
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
        writes themselves stay one at a time, in fetch order. `flush()` waits for the last one.
        """
        now = self._clock.monotonic()
        self._note(self._breaker.poll(now))
        if self._backlog:
            async with self._lock:  # a revoke must not run between taking a write and booking it
                await self.flush()  # a failed write kept its records; nothing is in flight now
        if self._backlog and self._may_try(now):
            async with self._lock:
                await self._handle(self._backlog, retry=True)
        elif self._backlog and self._holds_partitions():
            # Partitions are paused, so this only waits (and keeps the group membership).
            await self._idle(self._wait_s(now))
        else:
            records = await self._source.fetch(
                timeout_s=self._policy.fetch_timeout_s, max_records=self._policy.max_batch
            )
            if records:
                async with self._lock:
                    for record in records:
                        self._tracker.start(record.partition, record.offset)
                    await self._take(records)
            else:
                # Caught up: finish the last write and commit it now, not an interval later.
                async with self._lock:
                    await self.flush()
                await self._maybe_commit(force=True)  # never under the lock: see _on_revoked
                return
        await self._maybe_commit(force=False)

    async def flush(self) -> None:
        """Write the batch waiting for its turn, wait for the writes and book them (a failure
        keeps its batch in the backlog). Call it holding `_lock` (a revoke must not come
        between taking a write and booking it); it does not wait for a commit, which may be
        waiting for the rebalance that waits for the lock."""
        await self._send_ready()
        write, self._writing = self._writing, None
        if write is not None:
            await write.done()
            self._book(write)

    async def settle(self) -> None:
        """Everything in flight done: the writes booked and the commit in flight answered."""
        async with self._lock:
            await self.flush()
        committing, self._committing = self._committing, None
        if committing is not None:
            await committing

    async def _take(self, records: Sequence[Record]) -> None:
        """A new batch, in three overlapping stages while Redis looks healthy:

        1. decode it;
        2. write the batch triaged in the step before (once its owner lookup answered and the
           write before it succeeded), and book that one after the new write went out;
        3. triage this batch and send its owner lookup; it waits (`_ready`) for its write
           until the next step.

        Any doubt (breaker not closed, a failed write or lookup) sends the batch through
        `_handle`, which decides everything again one step at a time, behind a failed batch.
        """
        if self._breaker.state is not BreakerState.CLOSED or self._backlog:
            await self.flush()
            await self._handle_or_keep(records)
            return
        decoded = self._triager.decode(records)
        await self._send_ready()
        triage = await self._triaged(decoded)
        lookup = asyncio.ensure_future(self._ask(triage)) if triage.asks else None
        if self._backlog or self._breaker.state is not BreakerState.CLOSED:
            await _answered(lookup)
            await self.flush()
            await self._handle_or_keep(records)
        else:
            self._ready = _Ready(records, decoded, triage, lookup)

    async def _send_ready(self) -> None:
        """Start the write of the triaged batch once its owner lookup answered and the write
        before it succeeded."""
        ready, self._ready = self._ready, None
        if ready is None:
            return
        before, self._writing = self._writing, None
        if before is not None:
            await before.done()
            if not before.ok:
                self._book(before)  # keeps it: the ready batch must go behind it
                await _answered(ready.lookup)
                await self._handle_or_keep(ready.records)
                return
        triage = await self._settled(ready)
        if triage is None:  # the lookup failed: `_handle` asks again, and counts that answer
            if before is not None:
                self._book(before)
            await self._handle_or_keep(ready.records)
            return
        self._writing = self._writer.start(ready.records, triage, retry=False)
        await asyncio.sleep(0)  # let the write go out before booking the one before
        if before is not None:
            self._book(before)

    async def _handle_or_keep(self, records: Sequence[Record]) -> None:
        """The one-step-at-a-time path for a new batch (nothing in flight)."""
        if self._backlog and self._holds_partitions():
            self._keep(records, retry=False)  # behind the failed batch, never before it
        else:
            await self._handle(records, retry=False)

    async def _triaged(self, decoded: Decoded) -> Triage:
        """Triage a batch, yielding to the writes in flight between slices."""
        now, triage = self._clock.wall(), Triage()
        for start in range(0, len(decoded.records), TRIAGE_SLICE):
            if start:
                await asyncio.sleep(0)  # the writes in flight move on between slices
            part = slice(start, start + TRIAGE_SLICE)
            self._triager.triage(decoded, now=now, part=part, into=triage)
        return triage

    async def _ask(self, triage: Triage) -> dict[str, str]:
        """The owner index's answer to a triage's lookups and claims (one round trip)."""
        return await self._store.owners(triage.lookups, triage.claims)

    async def _settled(self, ready: _Ready) -> Triage | None:
        """The ready batch's triage once the index answered: as it is when the answer is the
        one it assumed (no session had an owner: every claim won), else triaged again by the
        index's owners. None when the lookup failed."""
        if ready.lookup is None:
            return ready.triage
        try:
            before = await ready.lookup
        except StoreUnavailable:
            return None
        if self._triager.settle(ready.triage, before):
            return ready.triage
        return self._triager.triage(ready.decoded, now=self._clock.wall())

    def _may_try(self, now: float) -> bool:
        return now >= self._retry_at and self._breaker.allow(now)

    def _wait_s(self, now: float) -> float:
        due = self._breaker.probe_due_at
        target = (
            due if self._breaker.state is BreakerState.OPEN and due is not None else self._retry_at
        )
        return min(max(target - now, 0.0), self._policy.fetch_timeout_s * 5)

    async def _idle(self, seconds: float) -> None:
        records = await self._source.fetch(
            timeout_s=max(seconds, 0.01), max_records=self._policy.max_batch
        )
        if records:  # a partition assigned during the outage, fetched before we paused it
            for record in records:
                self._tracker.start(record.partition, record.offset)
            self._backlog.extend(records)
            self._pause_all()

    async def _handle(self, records: Sequence[Record], *, retry: bool) -> None:
        """Take a batch as far as it can go; keep it for a retry if a write to Redis failed.

        A failed write is kept under both policies: Redis may have applied part of it, so
        only retrying it (idempotently) keeps "dropped" exact. Under `drop`, a batch that
        arrives while Redis is known to be down (breaker open, or a failed batch waiting for
        its retry) is not attempted: it is dropped, counted and committed.
        """
        drop = self._policy.on_open is OpenPolicy.DROP
        # The caller asked the breaker before a retry; under `pause` new batches only come
        # while nothing waits, so only `drop` must ask here.
        reachable = (
            retry
            or not drop
            or (not self._backlog and self._breaker.allow(self._clock.monotonic()))
        )
        decoded = self._triager.decode(records)
        triage = self._triager.triage(decoded, now=self._clock.wall(), lookup_failed=not reachable)
        if triage.asks and reachable:
            try:
                before = await self._ask(triage)
            except StoreUnavailable as exc:
                self._store_failed(exc, retry)
                self._keep(records, retry)
                return
            if not self._triager.settle(triage, before):
                triage = self._triager.triage(decoded, now=self._clock.wall())
        if reachable:
            await self._write(records, triage, retry=retry)
            return
        # Only `drop` gets here, with Redis known to be down: nothing is attempted.
        outcome = BatchOutcome(records, triage)
        closed = self._breaker.state is BreakerState.CLOSED
        outcome.dropped("redis_unavailable" if closed else "breaker_open")
        if await self._dead_letter(outcome, retry):
            self._conclude(outcome, retry=retry)
        else:
            self._keep(records, retry)

    async def _write(self, records: Sequence[Record], triage: Triage, *, retry: bool) -> bool:
        """Publish a triaged batch and dead-letter its invalid records, then book it; False
        (and the batch kept for a retry) when Redis or the dead-letter topic failed."""
        write = self._writer.start(records, triage, retry=retry)
        await write.done()
        return self._book(write)

    def _book(self, write: Write) -> bool:
        """Account for a finished write: the batch is finished, or kept for a retry."""
        published = write.published.result()
        results, seconds = published.results, published.seconds
        dlq_error = write.dead_letter_error
        outcome, trace = write.outcome, write.trace
        if isinstance(results, StoreUnavailable):
            if trace is not None:
                trace.failed(str(results))
            self._store_failed(results, write.retry)
        elif trace is not None:
            trace.succeeded(results)
            self._triager.published(outcome.triage.deliver, [r.owner for r in results])
            self._publish_ok += 1
            self._note(self._breaker.record_success(self._clock.monotonic()))
            outcome.published(results, seconds, self._clock.wall().timestamp())
        if dlq_error is not None:
            self._dead_letters_failed(dlq_error, write.retry)
            self._keep(outcome.records, write.retry)
            return False
        if isinstance(results, StoreUnavailable):
            # The dead letters went out beside the failed write and are acknowledged: those
            # records are done. Only the rest waits, so a retry (which may route differently
            # once the owner cache learned more) cannot also deliver one of them.
            lettered = self._finish_letters(outcome)
            self._keep([r for r in outcome.records if id(r) not in lettered], write.retry)
            return False
        self._conclude(outcome, retry=write.retry)
        return True

    def _finish_letters(self, outcome: BatchOutcome) -> set[int]:
        """Finish and count the batch's dead-lettered records alone; their ids (`id()`)."""
        records = [letter.record for letter in outcome.letters()]
        if records:
            report = BatchReport(
                consumed=len(records),
                invalid_by_reason=dict(outcome.report.invalid_by_reason),
                dead_lettered=len(records),
            )
            self._account(records, report)
        return {id(record) for record in records}

    async def _dead_letter(self, outcome: BatchOutcome, retry: bool) -> bool:
        """Send the batch's dead letters; False (and the retry timer set) when that failed."""
        error = await self._writer.send_letters(outcome.letters())
        if error is not None:
            self._dead_letters_failed(error, retry)
        return error is None

    def _dead_letters_failed(self, error: DeadLetterUnavailable, retry: bool) -> None:
        # The whole batch is kept and tried again later: republishing is idempotent.
        log.error("dead-letter topic unavailable", extra={"error": str(error)})
        self._wait_for_retry(retry)

    def _wait_for_retry(self, retry: bool) -> None:
        """A failure starts a wait unless one is running: only the failed retry itself (or the
        first failure) sets the timer, so later batches under `drop` cannot push it away."""
        if retry or not self._backlog:
            self._retry_at = self._clock.monotonic() + self._policy.retry_backoff_s

    def _conclude(self, outcome: BatchOutcome, *, retry: bool) -> None:
        """The batch is finished: its offsets become committable."""
        self._account(outcome.records, outcome.report)
        if retry:
            self._backlog = []
            self._resume_all()

    def _store_failed(self, exc: StoreUnavailable, retry: bool) -> None:
        now = self._clock.monotonic()
        self._note(self._breaker.record_failure(now))
        self._publish_failed += 1
        self._wait_for_retry(retry)
        log.warning(
            "redis unavailable", extra={"error": str(exc), "breaker": self._breaker.state.value}
        )

    def _keep(self, records: Sequence[Record], retry: bool) -> None:
        """`records` wait for a retry: a new batch joins the backlog (behind a batch whose
        write failed while it was triaged); a retried backlog is what is still waiting."""
        if retry:
            self._backlog = list(records)
            return
        self._backlog.extend(records)
        if self._holds_partitions():
            self._pause_all()

    def _holds_partitions(self) -> bool:
        """While records wait for a retry the partitions stay paused under `pause`, and under
        `drop` too once the backlog reached its bound (SPEC §15: every backlog is bounded)."""
        return (
            self._policy.on_open is OpenPolicy.PAUSE
            or len(self._backlog) >= self._policy.max_backlog_records
        )

    def _account(self, records: Sequence[Record], report: BatchReport) -> None:
        """Records are finished (committable), counted, and summed up in one log line."""
        for record in records:
            self._tracker.finish(record.partition, record.offset)
        self.totals.add(report)
        self._telemetry.batch_processed(report)
        log.info("batch", extra=log_fields(report, self._breaker.state.value))

    def _pause_all(self) -> None:
        assigned = self._source.assignment()
        if assigned - self._source.paused():
            self._source.pause(assigned)
            self._telemetry.partitions_paused(len(assigned))
            log.warning("partitions paused", extra={"partitions": len(assigned)})

    def _resume_all(self) -> None:
        paused = self._source.paused()
        if paused:
            self._source.resume(paused)
            self._telemetry.partitions_resumed(len(paused))
            log.info("partitions resumed", extra={"partitions": len(paused)})

    def _note(self, transition: Transition | None) -> None:
        if transition is not None:
            self._telemetry.breaker_changed(transition.old.value, transition.new.value)
            log.warning(
                "breaker %s -> %s",
                transition.old.value,
                transition.new.value,
                extra={"breaker": transition.new.value},
            )

    async def _maybe_commit(self, *, force: bool) -> None:
        """Commit what is finished when due; in the background, one commit at a time, except
        `force`, which waits for the commit in flight and then commits the rest itself."""
        if self._committing is not None:
            if not (force or self._committing.done()):
                return
            await self._committing
            self._committing = None
        now = self._clock.monotonic()
        due = (
            force
            or self._tracker.finished_since_commit() >= self._policy.commit_every_records
            or now - self._last_commit >= self._policy.commit_interval_s
        )
        if not due:
            return
        self._last_commit = now
        offsets = self._tracker.committable()
        if not offsets:
            return
        if force:
            await self._commit(offsets)
        else:
            self._committing = asyncio.ensure_future(self._commit(offsets))

    async def _commit(self, offsets: dict[Partition, int]) -> None:
        try:
            await self._source.commit(offsets)
        except SourceUnavailable as exc:
            log.warning("commit failed", extra={"error": str(exc)})
            return
        self._tracker.mark_committed(offsets)

    async def _on_revoked(self, partitions: frozenset[Partition]) -> None:
        async with self._lock:
            await self.flush()
            offsets = {p: o for p, o in self._tracker.committable().items() if p in partitions}
            if offsets:
                try:
                    await self._source.commit(offsets)
                except SourceUnavailable as exc:
                    log.warning("commit on revoke failed", extra={"error": str(exc)})
            # Unfinished work of revoked partitions is abandoned: the next owner gets it again
            # from the committed offset, and idempotent writes make the redelivery harmless.
            self._backlog = [r for r in self._backlog if r.partition not in partitions]
            self._tracker.forget(partitions)
            if not self._source.assignment() - partitions:
                self._unassigned_since = self._clock.monotonic()
            if not self._backlog:
                self._resume_all()  # what waited for Redis went away with the partitions
            log.info("partitions revoked", extra={"partitions": len(partitions)})

    async def _on_assigned(self, partitions: frozenset[Partition]) -> None:
        self._unassigned_since = None if partitions else self._clock.monotonic()
        if self._backlog and self._holds_partitions():
            self._source.pause(partitions)  # `drop` keeps consuming, new partitions too
        log.info("partitions assigned", extra={"partitions": len(partitions)})

    async def drain(self) -> None:
        """Finish what can be finished, commit, and never run twice."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self.flush()
            if self._backlog and self._breaker.allow(self._clock.monotonic()):
                await self._handle(self._backlog, retry=True)
        await self._maybe_commit(force=True)
