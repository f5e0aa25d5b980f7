"""Triage: what each record of a batch becomes (delivery, dead letter, ignored), no I/O here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from application.owners import OwnerCache
from application.ports import DeadLetter
from domain.envelope import decode, peek_session
from domain.filter import EventFilter
from domain.mapper import SseMapper
from domain.model import Record, SseMessage
from domain.reasons import Reason, Rejection, Verdict, internal_error


@dataclass(slots=True)
class Decoded:
    """Phase one of a batch: each record decoded, and the sessions whose owner we must ask."""

    records: Sequence[Record]
    objects: list[dict[str, Any] | Rejection]
    unknown_sessions: set[str]


@dataclass(slots=True)
class Triage:
    """Phase two: the verdict for every record of the batch."""

    deliver: list[tuple[Record, SseMessage]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    ignored: list[Record] = field(default_factory=list)
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    unroutable: list[Record] = field(default_factory=list)  # owner unknown because Redis was down


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


class Triager:
    """Runs decode → filter → map over a batch, learning session owners as it goes."""

    def __init__(
        self,
        *,
        event_filter: EventFilter,
        mapper: SseMapper,
        owners: OwnerCache,
        loads: Callable[[bytes], Any],
        max_record_bytes: int,
    ) -> None:
        self._filter = event_filter
        self._mapper = mapper
        self._owners = owners
        self._loads = loads
        self._max_record_bytes = max_record_bytes

    def remember(self, owners: dict[str, str]) -> None:
        """Owners looked up in Redis for sessions this batch could not route by itself; the
        index's answer wins over an owner the batch taught the cache before it came."""
        self._owners.update(owners)

    def decode(self, records: Sequence[Record]) -> Decoded:
        objects: list[dict[str, Any] | Rejection] = []
        unknown: set[str] = set()
        routed_here: set[str] = set()  # sessions whose owner an earlier record of this batch names
        for record in records:
            try:
                obj = decode(record.value, self._loads, self._max_record_bytes)
                session_id, has_user = (
                    (None, False) if isinstance(obj, Rejection) else peek_session(obj)
                )
            except Exception as exc:  # one record's problem, never the batch's (SPEC §15)
                obj, session_id = internal_error(exc, "decoding"), None
            objects.append(obj)
            if session_id is None:
                continue
            if has_user:
                routed_here.add(session_id)
            elif session_id not in routed_here and session_id not in self._owners:
                unknown.add(session_id)
        return Decoded(records, objects, unknown)

    def triage(
        self,
        decoded: Decoded,
        *,
        now: datetime,
        lookup_failed: bool = False,
        part: slice = slice(None),
        into: Triage | None = None,
    ) -> Triage:
        """Verdicts in record order; with `lookup_failed`, owner-less events are unroutable.

        With `part` and `into`, one slice of the batch is added to a Triage in progress (the
        slices in order), so a caller can yield to other work between slices.
        """
        out = Triage() if into is None else into
        for record, obj in zip(decoded.records[part], decoded.objects[part], strict=True):
            verdict: SseMessage | Rejection
            try:
                verdict = obj if isinstance(obj, Rejection) else self._verdict(record, obj, now)
            except Exception as exc:  # one record's problem, never the batch's (SPEC §15)
                verdict = internal_error(exc, "checking")
            if isinstance(verdict, SseMessage):
                out.deliver.append((record, verdict))
            elif verdict.verdict is Verdict.IGNORED:
                out.ignored.append(record)
                _count(out.ignored_by_reason, verdict.reason.value)
            elif lookup_failed and verdict.reason is Reason.NO_USER:
                out.unroutable.append(record)
            else:
                out.letters.append(DeadLetter(record, verdict.reason.value, verdict.message))
                _count(out.invalid_by_reason, verdict.reason.value)
        return out

    def _verdict(
        self, record: Record, obj: dict[str, Any], now: datetime
    ) -> SseMessage | Rejection:
        """Filter and map one decoded record; a delivery that names its user teaches its owner."""
        owners = self._owners
        checked = self._filter.check(obj, record.header, now=now, session_owner=owners.get)
        if isinstance(checked, Rejection):
            return checked
        message = self._mapper.to_message(checked)
        if isinstance(message, SseMessage) and message.teaches_owner:
            owners.learn(message.session_id, message.user_id)
        return message
