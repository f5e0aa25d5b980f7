"""Accounts: what a booked write changes beyond its batch — offsets, counts, breaker, backlog."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from application.bridge.backlog import Backlog
from application.bridge.bookkeeping import book, log_fields
from application.bridge.writes import Write
from application.ports import BatchReport, Clock, ReplicasShort, StoreUnavailable, Telemetry
from application.triage import Triager
from domain.breaker import CircuitBreaker, Transition
from domain.model import Record
from domain.offsets import OffsetTracker

log = logging.getLogger("eventbridge.bridge")


class Accounts:
    """Applies the bookkeeping of each finished write: finished records become committable
    and are counted (one log line and one telemetry call per batch, never per event), kept
    ones join the backlog, the breaker hears how Redis did, the owner cache what the index
    holds, and the spans of the write end."""

    def __init__(
        self,
        *,
        tracker: OffsetTracker,
        triager: Triager,
        breaker: CircuitBreaker,
        backlog: Backlog,
        telemetry: Telemetry,
        clock: Clock,
    ) -> None:
        self._tracker = tracker
        self._triager = triager
        self._breaker = breaker
        self._backlog = backlog
        self._telemetry = telemetry
        self._clock = clock
        self.totals = BatchReport()
        self.publish_ok = 0
        self.publish_failed = 0  # failed Redis calls (publish or owner lookup), for health
        # For readiness (SPEC §15: ready only while the work moves): when the bridge last
        # finished a record or had nothing waiting, and the dead-letter failure that holds it.
        self.moved_at = clock.monotonic()
        self.dead_letters_error: str | None = None
        # Writes too few replicas confirmed (WAIT), and the last one while no write since was.
        self.replica_shortfalls = 0
        self.replica_shortfall: str | None = None

    def book(self, write: Write) -> bool:
        """Account for a finished write; True when its whole batch is finished, False when
        (some of) it was kept for a retry."""
        attempt = write.attempt()
        store_error = write.store_error
        if store_error is not None:
            write.trace.failed(str(store_error))
            self.store_failed(store_error, retry=write.retry)
        elif attempt.results is not None and write.triage.deliver:
            results = attempt.results
            write.trace.succeeded(write.traced_results(results))
            self._triager.published(write.triage.deliver, [r.owner for r in results])
            self.publish_ok += 1
            self.replica_shortfall = None  # confirmed (or no replicas asked for)
            self.note(self._breaker.record_success(self._clock.monotonic()))
        letters_error = write.dead_letter_error
        if letters_error is not None:
            # The batch is kept and tried again later: republishing is idempotent.
            log.error("dead-letter topic unavailable", extra={"error": str(letters_error)})
            self.dead_letters_error = str(letters_error)[:500]
            self._backlog.failed(retry=write.retry)
        elif write.retry or (write.lettered is not None and write.triage.letters):
            self.dead_letters_error = None  # letters went out (or nothing waits for them)
        booked = book(attempt, now_s=self._clock.wall().timestamp())
        if booked.report is not None:
            self.account(booked.finished, booked.report)
        if booked.kept:
            self._backlog.keep(booked.kept, retry=write.retry)
            return False
        if write.retry:
            self._backlog.cleared()
        return True

    def store_failed(self, exc: StoreUnavailable, *, retry: bool) -> None:
        """Redis failed a call (or too few replicas confirmed a write): the breaker counts it
        and a retry wait starts."""
        if isinstance(exc, ReplicasShort):
            self.replica_shortfalls += 1
            self.replica_shortfall = str(exc)[:500]
        self.note(self._breaker.record_failure(self._clock.monotonic()))
        self.publish_failed += 1
        self._backlog.failed(retry=retry)
        log.warning(
            "redis unavailable", extra={"error": str(exc), "breaker": self._breaker.state.value}
        )

    def account(self, records: Sequence[Record], report: BatchReport) -> None:
        """Records are finished (committable), counted, and summed up in one log line."""
        for record in records:
            self._tracker.finish(record.partition, record.offset)
        if records:
            self.moved_at = self._clock.monotonic()
        self.totals.add(report)
        self._telemetry.batch_processed(report)
        log.info("batch", extra=log_fields(report, self._breaker.state.value))

    def note(self, transition: Transition | None) -> None:
        """A breaker state change: counted and logged."""
        if transition is not None:
            self._telemetry.breaker_changed(transition.old.value, transition.new.value)
            log.warning(
                "breaker %s -> %s",
                transition.old.value,
                transition.new.value,
                extra={"breaker": transition.new.value},
            )
