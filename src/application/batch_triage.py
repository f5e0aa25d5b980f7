"""What triage makes of a batch, as values: each record's verdict and what waits for the index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from application.ports import DeadLetter
from domain.fields import RawEvent
from domain.model import Record, SseMessage
from domain.reasons import Rejection
from domain.tracecontext import TraceParent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Decoded:
    """Phase one of a batch: each record decoded (or refused)."""

    records: Sequence[Record]
    objects: list[dict[str, Any] | Rejection]


@dataclass(slots=True)
class Waiting:
    """An owner-less event whose session only the shared index can tell the owner of: screened
    once, it waits for the index's answer at its place in the batch (`at` among the
    deliveries, `letter_at` among the dead letters). `named` is the user an earlier record
    named for the session, claimed for it in the index (None: the index is only asked)."""

    record: Record
    raw: RawEvent
    named: str | None
    traceparent: TraceParent | None
    at: int
    letter_at: int


@dataclass(slots=True)
class Triage:
    """Phase two: the verdict for every record of the batch, and what to ask the owner index.

    Owner-less events are routed by confirmed owners; an event whose session has none waits
    (`waiting`) for the index, asked about each such session (`lookups`), or asked to make the
    user an earlier delivered record of the session named its owner (`claims`), until
    `Triager.settle` decides it.
    """

    deliver: list[tuple[Record, SseMessage]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    ignored: list[Record] = field(default_factory=list)
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    unroutable: list[Record] = field(default_factory=list)  # owner unknown because Redis was down
    waiting: list[Waiting] = field(default_factory=list)
    lookups: set[str] = field(default_factory=set)
    claims: dict[str, str] = field(default_factory=dict)
    sampled: int = 0  # deliveries whose record's trace is sampled (they carry `traceparent`)
    now: datetime = _EPOCH  # the time the triage's time checks were made at

    @property
    def asks(self) -> bool:
        """Whether some of its events wait for the owner index's answer."""
        return bool(self.waiting)
