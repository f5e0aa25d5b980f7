"""One batch's write: its Redis publish and its dead letters, in flight together, as values."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from application.outcome import BatchOutcome
from application.ports import (
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


@dataclass(slots=True)
class Write:
    """A batch whose Redis write and dead letters are in flight, not yet booked."""

    outcome: BatchOutcome
    trace: PublishTrace | None
    retry: bool
    published: asyncio.Future[Published]
    lettered: asyncio.Future[DeadLetterUnavailable | None]

    async def done(self) -> None:
        await self.published  # neither raises: failures come back as values
        await self.lettered

    @property
    def dead_letter_error(self) -> DeadLetterUnavailable | None:
        """A dead letter of the batch (an invalid record, or a message Redis refused) failed."""
        return self.lettered.result() or self.published.result().refused_letters

    @property
    def ok(self) -> bool:
        published = self.published.result()
        return not isinstance(published.results, StoreUnavailable) and not self.dead_letter_error


class Writer:
    """Starts batch writes: one task for the Redis publish, one for the dead letters."""

    def __init__(
        self, *, store: StreamStore, dead_letters: DeadLetters, telemetry: Telemetry, clock: Clock
    ) -> None:
        self._store = store
        self._dead_letters = dead_letters
        self._telemetry = telemetry
        self._clock = clock

    def start(self, records: Sequence[Record], triage: Triage, *, retry: bool) -> Write:
        outcome = BatchOutcome(records, triage)
        trace = self._telemetry.publish_started(triage.deliver) if triage.deliver else None
        messages = trace.messages if trace is not None else []
        return Write(
            outcome,
            trace,
            retry,
            asyncio.ensure_future(self._publish(triage.deliver, messages)),
            asyncio.ensure_future(self.send_letters(outcome.letters())),
        )

    async def _publish(
        self, deliver: Sequence[tuple[Record, SseMessage]], messages: list[SseMessage]
    ) -> Published:
        """Only I/O. A message Redis refuses for good (the store says why) is dead-lettered
        as internal_error right here, so the batch is finished once this answered."""
        if not messages:
            return Published([], 0.0)
        started = self._clock.monotonic()
        try:
            results = await self._store.publish(messages)
        except StoreUnavailable as exc:
            return Published(exc, 0.0)
        seconds = self._clock.monotonic() - started
        refused = [
            DeadLetter(record, Reason.INTERNAL_ERROR.value, result.refused)
            for (record, _), result in zip(deliver, results, strict=True)
            if result.refused is not None
        ]
        return Published(results, seconds, await self.send_letters(refused))

    async def send_letters(self, letters: list[DeadLetter]) -> DeadLetterUnavailable | None:
        """Only I/O: None once the dead-letter topic acknowledged them, or the failure."""
        try:
            if letters:
                await self._dead_letters.send(letters)
        except DeadLetterUnavailable as exc:
            return exc
        return None
