"""The pipeline: the one way a fetched batch goes — prepare, send, write, book."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from application.bridge.accounts import Accounts
from application.bridge.backlog import Backlog
from application.bridge.writes import Write, Writer
from application.policy import BridgePolicy, OpenPolicy
from application.ports import Clock, OwnerAnswer, StoreUnavailable, StreamStore
from application.triage import Decoded, Triage, Triager
from domain.breaker import BreakerState, CircuitBreaker
from domain.model import Record

TRIAGE_SLICE = 200  # records triaged between two yields to the event loop (~3 ms of CPU)


@dataclass(slots=True)
class Batch:
    """A prepared batch: triaged, and its owner lookup in flight if some events wait for it."""

    records: Sequence[Record]
    triage: Triage
    lookup: asyncio.Future[OwnerAnswer] | None
    fetched_s: float | None = None  # when it was fetched (epoch s); None for a retry

    async def answered(self) -> None:
        """Wait for a lookup whose answer is no longer needed (the batch goes another way)."""
        if self.lookup is not None:
            with contextlib.suppress(StoreUnavailable):
                await self.lookup


class Pipeline:
    """Each batch is prepared (decoded, triaged, its owner lookup sent), sent (the lookup's
    answer decides the events that waited for it, then the Redis write and the dead letters
    go out together) and booked once they answered.

    While Redis looks healthy `take` runs it at depth 2: a batch is prepared while the batch
    before it is written, and its write starts once that one succeeded (`ready`). In any
    doubt — the breaker not closed, records waiting for a retry — the same stages run at
    depth 1 (`one_at_a_time`), behind the batch that failed. Writes go out one at a time, in
    fetch order. Callers hold the bridge's lock: a revoke must not come between taking a
    write and booking it.
    """

    def __init__(
        self,
        *,
        triager: Triager,
        store: StreamStore,
        writer: Writer,
        accounts: Accounts,
        backlog: Backlog,
        breaker: CircuitBreaker,
        clock: Clock,
        policy: BridgePolicy,
    ) -> None:
        self._triager = triager
        self._store = store
        self._writer = writer
        self._accounts = accounts
        self._backlog = backlog
        self._breaker = breaker
        self._clock = clock
        self._policy = policy
        self.ready: Batch | None = None  # prepared, written next
        self.writing: Write | None = None  # the last batch's write, in flight or not yet booked

    def writing_in_flight(self) -> bool:
        """A write went out and has not answered yet."""
        return self.writing is not None and not self.writing.answered()

    def _doubtful(self) -> bool:
        return bool(self._backlog) or self._breaker.state is not BreakerState.CLOSED

    async def take(self, records: Sequence[Record], *, fetched_s: float | None = None) -> None:
        """A new batch (fetched at `fetched_s`): decoded, then the batch before it starts its
        write, then this one is triaged (while that write is in flight) and waits for its own
        (`ready`)."""
        if self._doubtful():
            await self.flush()
            await self.one_at_a_time(records, retry=False)
            return
        decoded = self._triager.decode(records)
        await self.send_ready()
        batch = await self._prepared(decoded, ask=True)
        batch.fetched_s = fetched_s
        if self._doubtful():  # the write before failed while this batch was triaged
            await batch.answered()
            await self.flush()
            await self.one_at_a_time(records, retry=False)
        else:
            self.ready = batch

    async def send_ready(self) -> None:
        """Start the ready batch's write once the write before it succeeded; book that one
        after the new write went out."""
        ready, self.ready = self.ready, None
        if ready is None:
            return
        before, self.writing = self.writing, None
        if before is not None:
            await before.done()
            if not before.ok:
                self._accounts.book(before)  # keeps it: the ready batch must go behind it
                await ready.answered()
                await self.one_at_a_time(ready.records, retry=False)
                return
        write = await self._send(ready, retry=False)
        if write.lookup_error is None:
            self.writing = write
            await asyncio.sleep(0)  # let the write go out before booking the one before
        if before is not None:
            self._accounts.book(before)
        if write.lookup_error is not None:  # nothing went out: it waits behind `before`
            self._accounts.book(write)

    async def flush(self) -> None:
        """Write the ready batch, wait for the writes and book them (a failure keeps its
        batch in the backlog)."""
        await self.send_ready()
        write, self.writing = self.writing, None
        if write is not None:
            await write.done()
            self._accounts.book(write)

    async def one_at_a_time(self, records: Sequence[Record], *, retry: bool) -> None:
        """Depth 1 (nothing in flight): take a batch as far as it can go; keep it for a retry
        if a write failed. A new batch goes behind records already waiting under a policy
        that holds the partitions, never before them.

        A failed write is kept under both policies: Redis may have applied part of it, so
        only retrying it (idempotently) keeps "dropped" exact. Under `drop`, a batch that
        arrives while Redis is known to be down (breaker open, or a failed batch waiting for
        its retry) is not attempted: it is dropped, counted and committed.
        """
        if not retry and self._backlog and self._backlog.holds_partitions():
            self._backlog.keep(records, retry=False)
            return
        # The caller asked the breaker before a retry; under `pause` new batches only come
        # while nothing waits, so only `drop` must ask here.
        reachable = (
            retry
            or self._policy.on_open is not OpenPolicy.DROP
            or (not self._backlog and self._breaker.allow(self._clock.monotonic()))
        )
        batch = await self._prepared(self._triager.decode(records), ask=reachable)
        if reachable:
            write = await self._send(batch, retry=retry)
        else:  # only `drop` gets here, with Redis known to be down: nothing is attempted
            self._triager.settle(batch.triage, None)
            closed = self._breaker.state is BreakerState.CLOSED
            reason = "redis_unavailable" if closed else "breaker_open"
            write = self._writer.dropped(records, batch.triage, retry=retry, reason=reason)
        await write.done()
        self._accounts.book(write)

    async def _prepared(self, decoded: Decoded, *, ask: bool) -> Batch:
        """Triage a batch, yielding to the writes in flight between slices, and send its owner
        lookup (one round trip) when some of its events wait for the index and `ask`."""
        now, triage = self._clock.wall(), None
        for start in range(0, len(decoded.records), TRIAGE_SLICE):
            if start:
                await asyncio.sleep(0)  # the writes in flight move on between slices
            part = slice(start, start + TRIAGE_SLICE)
            triage = self._triager.triage(decoded, now=now, part=part, into=triage)
        if triage is None:
            triage = Triage(now=now)
        lookup = None
        if ask and triage.asks:
            lookup = asyncio.ensure_future(self._store.owners(triage.lookups, triage.claims))
        return Batch(decoded.records, triage, lookup)

    async def _send(self, batch: Batch, *, retry: bool) -> Write:
        """The lookup's answer settles the waiting events, then the write starts; if the
        lookup failed, nothing goes out (a failed write, booked like one)."""
        if batch.lookup is not None:
            try:
                before = await batch.lookup
            except StoreUnavailable as exc:
                return self._writer.unasked(batch.records, batch.triage, retry=retry, error=exc)
            self._triager.settle(batch.triage, before, before.refused)
        return self._writer.start(
            batch.records, batch.triage, retry=retry, fetched_s=batch.fetched_s
        )
