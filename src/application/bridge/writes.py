"""One batch's write: its Redis publish and its dead letters, in flight together, as values."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from application.bridge.bookkeeping import Attempt
from application.ports import (
    UNTRACED,
    Clock,
    DeadLetter,
    DeadLetters,
    DeadLetterUnavailable,
    PublishResult,
    PublishTrace,
    StoreUnavailable,
    StreamStore,
    Telemetry,
)
from application.triage import Triage
from domain.model import Record, SseMessage
from domain.reasons import Reason


@dataclass(frozen=True, slots=True)
class Published:
    """What the store answered (or its failure) and how long it took; when it refused some
    messages for good, whether their dead letters failed."""

    results: list[PublishResult] | StoreUnavailable
    seconds: float
    refused_letters: DeadLetterUnavailable | None = None
    acked_s: float | None = None  # when Redis answered (epoch s)


@dataclass(slots=True)
class Write:
    """A batch whose Redis write and dead letters are in flight, not yet booked.

    `published` is None when the write was not attempted (`dropped`, or the owner lookup
    before it failed: `lookup_error`); `lettered` is None when the dead letters were not sent.
    """

    records: Sequence[Record]
    triage: Triage
    retry: bool
    published: asyncio.Future[Published] | None
    lettered: asyncio.Future[DeadLetterUnavailable | None] | None
    trace: PublishTrace = UNTRACED
    traced_at: list[int] = field(default_factory=list)  # where the traced deliveries are
    dropped: str | None = None
    lookup_error: StoreUnavailable | None = None
    fetched_s: float | None = None  # when its batch was fetched (epoch s); None for a retry

    async def done(self) -> None:
        # Neither raises: failures come back as values.
        if self.published is not None:
            await self.published
        if self.lettered is not None:
            await self.lettered

    def answered(self) -> bool:
        """Every call of the write has answered (`done` would not wait)."""
        return all(f is None or f.done() for f in (self.published, self.lettered))

    @property
    def store_error(self) -> StoreUnavailable | None:
        """Redis failed this write (its publish, or the owner lookup it waited for)."""
        if self.published is not None:
            results = self.published.result().results
            return results if isinstance(results, StoreUnavailable) else None
        return self.lookup_error

    @property
    def dead_letter_error(self) -> DeadLetterUnavailable | None:
        """A dead letter of the batch (an invalid record, or a message Redis refused) failed."""
        error = self.lettered.result() if self.lettered is not None else None
        if error is None and self.published is not None:
            error = self.published.result().refused_letters
        return error

    @property
    def ok(self) -> bool:
        return self.store_error is None and self.dead_letter_error is None

    def attempt(self) -> Attempt:
        """What the write came to, for the bookkeeping (once `done`)."""
        published = self.published.result() if self.published is not None else None
        results = published.results if published is not None else None
        return Attempt(
            self.records,
            self.triage,
            None if isinstance(results, StoreUnavailable) else results,
            letters_sent=self.lettered is not None,
            letters_failed=self.dead_letter_error is not None,
            dropped=self.dropped,
            publish_seconds=published.seconds if published is not None else 0.0,
            fetched_s=self.fetched_s,
            acked_s=published.acked_s if published is not None else None,
        )

    def traced_results(self, results: Sequence[PublishResult]) -> list[PublishResult]:
        """The results of the traced deliveries, in their order (for their spans)."""
        return [results[i] for i in self.traced_at]


class Writer:
    """Starts batch writes: one task for the Redis publish, one for the dead letters."""

    def __init__(
        self, *, store: StreamStore, dead_letters: DeadLetters, telemetry: Telemetry, clock: Clock
    ) -> None:
        self._store = store
        self._dead_letters = dead_letters
        self._telemetry = telemetry
        self._clock = clock

    def start(
        self,
        records: Sequence[Record],
        triage: Triage,
        *,
        retry: bool,
        fetched_s: float | None = None,
    ) -> Write:
        """The publish and the dead letters go out now; spans start for sampled traces."""
        trace: PublishTrace = UNTRACED
        traced_at: list[int] = []
        if triage.sampled:
            traced_at = [i for i, (_, m) in enumerate(triage.deliver) if m.traceparent]
            trace = self._telemetry.publish_started([triage.deliver[i] for i in traced_at])
        return Write(
            records,
            triage,
            retry,
            asyncio.ensure_future(self._publish(triage.deliver)),
            asyncio.ensure_future(self.send_letters(triage.letters)),
            trace,
            traced_at,
            fetched_s=fetched_s,
        )

    def dropped(
        self, records: Sequence[Record], triage: Triage, *, retry: bool, reason: str
    ) -> Write:
        """Under `drop`, with Redis known to be down: only the dead letters go out."""
        letters = asyncio.ensure_future(self.send_letters(triage.letters))
        return Write(records, triage, retry, None, letters, dropped=reason)

    @staticmethod
    def unasked(
        records: Sequence[Record], triage: Triage, *, retry: bool, error: StoreUnavailable
    ) -> Write:
        """The owner lookup the batch waited for failed: nothing of it went out."""
        return Write(records, triage, retry, None, None, lookup_error=error)

    async def _publish(self, deliver: Sequence[tuple[Record, SseMessage]]) -> Published:
        """Only I/O. A message Redis refuses for good (the store says why) is dead-lettered
        as internal_error right here, so the batch is finished once this answered."""
        if not deliver:
            return Published([], 0.0)
        started = self._clock.monotonic()
        try:
            results = await self._store.publish([message for _, message in deliver])
        except StoreUnavailable as exc:
            return Published(exc, 0.0)
        seconds = self._clock.monotonic() - started
        acked_s = self._clock.wall().timestamp()
        refused = [
            DeadLetter(record, Reason.INTERNAL_ERROR.value, result.refused)
            for (record, _), result in zip(deliver, results, strict=True)
            if result.refused is not None
        ]
        return Published(results, seconds, await self.send_letters(refused), acked_s)

    async def send_letters(self, letters: list[DeadLetter]) -> DeadLetterUnavailable | None:
        """Only I/O: None once the dead-letter topic acknowledged them, or the failure."""
        try:
            if letters:
                await self._dead_letters.send(letters)
        except DeadLetterUnavailable as exc:
            return exc
        return None
