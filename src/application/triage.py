"""Triage: what each record of a batch becomes (delivery, dead letter, ignored), no I/O here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from application.owners import OwnerCache
from application.ports import DeadLetter
from domain.checks import is_uuid
from domain.envelope import decode
from domain.filter import EventFilter
from domain.mapper import SseMapper
from domain.model import Record, SseMessage
from domain.reasons import Reason, Rejection, Verdict, internal_error


@dataclass(slots=True)
class Decoded:
    """Phase one of a batch: each record decoded (or refused)."""

    records: Sequence[Record]
    objects: list[dict[str, Any] | Rejection]


@dataclass(slots=True)
class Triage:
    """Phase two: the verdict for every record of the batch, and what to ask the owner index.

    Owner-less events are routed by confirmed owners, else by the user an earlier delivered
    record of the session named (`claims`: that user must win the session in the index before
    the batch is written), else they have no owner (`lookups`: the index may know one).
    """

    deliver: list[tuple[Record, SseMessage]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    ignored: list[Record] = field(default_factory=list)
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    unroutable: list[Record] = field(default_factory=list)  # owner unknown because Redis was down
    lookups: set[str] = field(default_factory=set)
    claims: dict[str, str] = field(default_factory=dict)

    @property
    def asks(self) -> bool:
        """Whether its routing waits for the owner index's answer."""
        return bool(self.lookups or self.claims)


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


class _Routing:
    """The session owners one triage routes by, noting what it must ask the index about."""

    __slots__ = ("_out", "_owners")

    def __init__(self, owners: OwnerCache, out: Triage) -> None:
        self._owners, self._out = owners, out

    def __call__(self, session_id: str) -> str | None:
        owner = self._owners.get(session_id)
        if owner is not None or not is_uuid(session_id):
            return owner  # a session that is no UUID is refused by the filter: never asked
        owner = self._owners.named(session_id)
        if owner is not None:
            self._out.claims.setdefault(session_id, owner)
        else:
            self._out.lookups.add(session_id)
        return owner


class Triager:
    """Runs decode → filter → map over a batch; owners come from the shared index only."""

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

    def remember(self, owners: Mapping[str, str]) -> None:
        """Owners the shared index holds: they route every later event of their sessions."""
        self._owners.update(owners)

    def settle(self, triage: Triage, before: Mapping[str, str]) -> bool:
        """The index's answer to a triage's lookups and claims: each asked session's owner
        *before* the call (a claimed session absent from it was free, and now belongs to the
        claimed user). Remembered; True when the triage stands, i.e. it assumed just that."""
        won = {s: user for s, user in triage.claims.items() if s not in before}
        self._owners.update(won | dict(before))
        return not before

    def published(
        self, deliver: Sequence[tuple[Record, SseMessage]], owners: Sequence[str | None]
    ) -> None:
        """The owners the publish script found in (or wrote to) the index for the sessions the
        batch's messages taught, in message order (None for a message that teaches nothing)."""
        found = {
            message.session_id: owner
            for (_, message), owner in zip(deliver, owners, strict=True)
            if owner is not None
        }
        if found:
            self._owners.update(found)

    def decode(self, records: Sequence[Record]) -> Decoded:
        objects: list[dict[str, Any] | Rejection] = []
        for record in records:
            if record.unreadable is not None:  # the source could not read it as Kafka says
                said = record.unreadable[:300].encode("utf-8", "backslashreplace").decode()
                message = said or "the record could not be read"
                objects.append(Rejection(Reason.INVALID_UTF8, message))
                continue
            try:
                obj = decode(record.value, self._loads, self._max_record_bytes)
            except Exception as exc:  # one record's problem, never the batch's (SPEC §15)
                obj = internal_error(exc, "decoding")
            objects.append(obj)
        return Decoded(records, objects)

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
        routing = _Routing(self._owners, out)
        for record, obj in zip(decoded.records[part], decoded.objects[part], strict=True):
            verdict: SseMessage | Rejection
            try:
                verdict = (
                    obj if isinstance(obj, Rejection) else self._verdict(record, obj, now, routing)
                )
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
        self, record: Record, obj: dict[str, Any], now: datetime, routing: _Routing
    ) -> SseMessage | Rejection:
        """Filter and map one decoded record; a delivery that names its user names the user
        its session's later owner-less events are claimed for."""
        checked = self._filter.check(obj, record.header, now=now, session_owner=routing)
        if isinstance(checked, Rejection):
            return checked
        message = self._mapper.to_message(checked)
        if isinstance(message, SseMessage) and message.teaches_owner:
            self._owners.name(message.session_id, message.user_id)
        return message
