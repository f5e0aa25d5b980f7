"""Commits: the finished prefix of each partition, committed to Kafka in batches (SPEC §7)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from application.policy import BridgePolicy
from application.ports import Clock, EventSource, SourceUnavailable
from domain.model import Partition
from domain.offsets import OffsetTracker

log = logging.getLogger("eventbridge.bridge")


class Commits:
    """Commits what the tracker says is finished: in the background and one at a time when
    due (a count or an interval), at once and awaited when forced (caught up, drain), and for
    the partitions a rebalance takes away. A failed commit is logged; the next one covers it."""

    def __init__(
        self, *, source: EventSource, tracker: OffsetTracker, clock: Clock, policy: BridgePolicy
    ) -> None:
        self._source = source
        self._tracker = tracker
        self._clock = clock
        self._policy = policy
        self._last = clock.monotonic()
        self._in_flight: asyncio.Future[None] | None = None

    async def maybe(self, *, force: bool) -> None:
        """Commit what is finished when due; `force` waits for the commit in flight and then
        commits the rest itself. Never call it holding the bridge's lock: the commit may wait
        for a rebalance, whose callback waits for the lock."""
        if self._in_flight is not None:
            if not (force or self._in_flight.done()):
                return
            await self._in_flight
            self._in_flight = None
        now = self._clock.monotonic()
        due = (
            force
            or self._tracker.finished_since_commit() >= self._policy.commit_every_records
            or now - self._last >= self._policy.commit_interval_s
        )
        if not due:
            return
        self._last = now
        offsets = self._tracker.committable()
        if not offsets:
            return
        if force:
            await self._commit(offsets)
        else:
            self._in_flight = asyncio.ensure_future(self._commit(offsets))

    async def settle(self) -> None:
        """The commit in flight, if any, answered."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            await in_flight

    async def revoked(self, partitions: Collection[Partition]) -> None:
        """What is finished of partitions a rebalance takes away, committed before they go."""
        offsets = {p: o for p, o in self._tracker.committable().items() if p in partitions}
        if offsets:
            try:
                await self._source.commit(offsets)
            except SourceUnavailable as exc:
                log.warning("commit on revoke failed", extra={"error": str(exc)})

    async def _commit(self, offsets: dict[Partition, int]) -> None:
        try:
            await self._source.commit(offsets)
        except SourceUnavailable as exc:
            log.warning("commit failed", extra={"error": str(exc)})
            return
        self._tracker.mark_committed(offsets)
