"""The feed: what the bridge fetches when, so that a write never waits for records not sent."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from application.bridge.pipeline import Pipeline
from application.policy import BridgePolicy
from application.ports import Clock, EventSource
from domain.model import Partition, Record
from domain.offsets import OffsetTracker


class Feed:
    """Feeds the pipeline its batches (issue 16: real time at every load).

    A fetch waits for records only when no triaged batch waits for its write. Once a batch is
    triaged and no write is in flight, whatever is already there is fetched at once (timeout
    0): if anything is, it is the next batch (`ahead`), triaged while this one is written —
    the overlap; if nothing is, this batch is written now. Fetches run outside the bridge's
    lock (a rebalance callback may run inside them and take it); every fetched record is
    started in the offset tracker as it arrives.
    """

    def __init__(
        self,
        *,
        source: EventSource,
        tracker: OffsetTracker,
        pipeline: Pipeline,
        lock: asyncio.Lock,
        clock: Clock,
        policy: BridgePolicy,
    ) -> None:
        self._source = source
        self._tracker = tracker
        self._pipeline = pipeline
        self._lock = lock
        self._clock = clock
        self._policy = policy
        self._ahead: list[Record] = []  # fetched (started): the pipeline's next batch
        self._ahead_at = 0.0  # when it was fetched (epoch s)

    async def next_batch(self) -> bool:
        """Feed the pipeline its next batch; False when there was none (caught up)."""
        pipeline = self._pipeline
        records, fetched_s = self._ahead, self._ahead_at
        self._ahead = []
        if not records:
            waiting = pipeline.ready is not None
            records, fetched_s = await self.fetch(0.0 if waiting else self._policy.fetch_timeout_s)
            if not records:
                if not waiting:
                    return False
                async with self._lock:
                    await pipeline.send_ready()  # nothing more came: write it now
                return True
        async with self._lock:
            await pipeline.take(records, fetched_s=fetched_s)
        if pipeline.ready is not None and not pipeline.writing_in_flight():
            self._ahead, self._ahead_at = await self.fetch(0.0)
            if not self._ahead:
                async with self._lock:
                    await pipeline.send_ready()
        return True

    async def fetch(self, timeout_s: float) -> tuple[list[Record], float]:
        """A fetch of at most a batch, its records started, and when it returned (epoch s)."""
        records = await self._source.fetch(timeout_s=timeout_s, max_records=self._policy.max_batch)
        start = self._tracker.start
        for record in records:
            start(record.partition, record.offset)
        return records, self._clock.wall().timestamp()

    def forget(self, partitions: Collection[Partition]) -> None:
        """Revoked partitions' records fetched ahead go (the next owner fetches them again)."""
        self._ahead = [r for r in self._ahead if r.partition not in partitions]

    async def finish_ahead(self) -> None:
        """On drain: what was fetched ahead goes through the pipeline too, rather than being
        fetched again by the next owner. Call it holding the lock."""
        ahead, self._ahead = self._ahead, []
        if ahead:
            await self._pipeline.take(ahead, fetched_s=self._ahead_at)
