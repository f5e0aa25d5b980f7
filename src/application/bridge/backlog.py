"""The backlog: fetched records kept for a retry while Redis or the dead-letter topic is down."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from application.policy import BridgePolicy, OpenPolicy
from application.ports import Clock, EventSource, Telemetry
from domain.model import Partition, Record

log = logging.getLogger("eventbridge.bridge")


def _bytes(records: Sequence[Record]) -> int:
    """What records hold in memory, near enough: key, value, header names and values."""
    return sum(
        len(r.key or b"") + len(r.value or b"") + sum(len(n) + len(v or b"") for n, v in r.headers)
        for r in records
    )


class Backlog:
    """Records waiting for a retry, in fetch order: a batch whose write failed, and the
    batches that came behind it (never written before it).

    Bounded under every policy (SPEC §15): under `pause` the assigned partitions pause as soon
    as anything waits; under `drop` once `max_backlog_records` wait or they hold
    `max_backlog_bytes` (`bytes`: key, value and headers). The retry timer is set by
    the first failure and by a failed retry only, so batches arriving under `drop` cannot push
    the retry away for ever; each failed retry in a row doubles the wait (from
    `retry_backoff_s` up to `retry_backoff_max_s`), so an outage that lasts costs a retry now
    and then, not a loop.
    """

    def __init__(
        self, *, source: EventSource, telemetry: Telemetry, clock: Clock, policy: BridgePolicy
    ) -> None:
        self._source = source
        self._telemetry = telemetry
        self._clock = clock
        self._policy = policy
        self.records: list[Record] = []
        self.bytes = 0  # what `records` hold (_bytes)
        self.retry_at = 0.0
        self._failed_retries = 0  # in a row, since the wait started

    def __len__(self) -> int:
        return len(self.records)

    def __bool__(self) -> bool:
        return bool(self.records)

    def due(self, now: float) -> bool:
        """The retry timer has run out."""
        return now >= self.retry_at

    def failed(self, *, retry: bool) -> None:
        """A write failed: a wait starts, unless one is running (only the failed retry itself,
        or the first failure, sets the timer); the n-th failed retry in a row waits
        2^n x `retry_backoff_s`, at most `retry_backoff_max_s`."""
        if retry:
            self._failed_retries += 1
        elif self.records:
            return
        else:
            self._failed_retries = 0
        policy = self._policy
        wait_s = policy.retry_backoff_s * 2 ** min(self._failed_retries, 32)
        self.retry_at = self._clock.monotonic() + min(
            wait_s, max(policy.retry_backoff_max_s, policy.retry_backoff_s)
        )

    def keep(self, records: Sequence[Record], *, retry: bool) -> None:
        """`records` wait for a retry: a new batch joins the end (behind a batch whose write
        failed while it was triaged); a retried backlog becomes what is still waiting."""
        if retry:
            self.records = list(records)
            self.bytes = _bytes(self.records)
            return
        self.records.extend(records)
        self.bytes += _bytes(records)
        if self.holds_partitions():
            self.pause_all()

    def cleared(self) -> None:
        """The retry went through: nothing waits, the partitions go on."""
        self.records = []
        self.bytes = 0
        self.resume_all()

    def holds_partitions(self) -> bool:
        """While records wait the partitions stay paused under `pause`, and under `drop` too
        once the backlog reached one of its bounds (records or bytes)."""
        policy = self._policy
        return (
            policy.on_open is OpenPolicy.PAUSE
            or len(self.records) >= policy.max_backlog_records
            or self.bytes >= policy.max_backlog_bytes
        )

    def forget(self, partitions: Collection[Partition]) -> None:
        """Revoked partitions' records go (the next owner fetches them again)."""
        self.records = [r for r in self.records if r.partition not in partitions]
        self.bytes = _bytes(self.records)
        if not self.records:
            self.resume_all()  # what waited for Redis went away with the partitions

    def assigned(self, partitions: Collection[Partition]) -> None:
        """New partitions wait with the rest while the backlog holds them (`drop` keeps
        consuming, new partitions too, until the bound)."""
        if self.records and self.holds_partitions():
            self._source.pause(partitions)

    def pause_all(self) -> None:
        assigned = self._source.assignment()
        if assigned - self._source.paused():
            self._source.pause(assigned)
            self._telemetry.partitions_paused(len(assigned))
            log.warning("partitions paused", extra={"partitions": len(assigned)})

    def resume_all(self) -> None:
        paused = self._source.paused()
        if paused:
            self._source.resume(paused)
            self._telemetry.partitions_resumed(len(paused))
            log.info("partitions resumed", extra={"partitions": len(paused)})
