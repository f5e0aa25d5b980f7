"""Triage: what each record of a batch becomes (delivery, dead letter, ignored), no I/O here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from application.batch_triage import Decoded, Triage, Waiting
from application.owners import OwnerCache
from application.ports import DeadLetter
from domain.checks import is_uuid
from domain.filter import EventFilter
from domain.headers import known_headers
from domain.mapper import SseMapper
from domain.model import Envelope, Record, SseMessage
from domain.reasons import Reason, Rejection, Verdict, internal_error
from domain.tracecontext import TraceParent
from domain.users import owned_by, resolve_user

__all__ = ["Decoded", "Triage", "Triager", "Waiting"]

T = TypeVar("T")


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _merged(base: list[T], inserts: list[tuple[int, T]]) -> list[T]:
    """`base` with each item inserted at its position (positions in `base`, in order)."""
    if not inserts:
        return base
    out: list[T] = []
    done = 0
    for at, item in inserts:
        out += base[done:at]
        done = at
        out.append(item)
    out += base[done:]
    return out


class Triager:
    """Runs decode → filter → map over a batch; owners come from the shared index only.

    Each record is extracted and screened once; an event waiting for the owner index is
    decided from what was extracted, once the index answered (`settle`).
    """

    def __init__(
        self,
        *,
        event_filter: EventFilter,
        mapper: SseMapper,
        owners: OwnerCache,
        loads: Callable[[bytes], Any],
    ) -> None:
        self._filter = event_filter
        self._mapper = mapper
        self._owners = owners
        self._loads = loads

    def settle(
        self,
        triage: Triage,
        before: Mapping[str, str] | None,
        refused: Mapping[str, str] | None = None,
    ) -> None:
        """Decide the waiting events. `before` is the index's answer to the triage's lookups
        and claims: each asked session's owner *before* the call (a claimed session absent
        from it was free, and now belongs to the claimed user); remembered. A waiting event
        goes to the owner the index had, else to the user claimed for it, else it has no
        owner (`no_user`). `before=None`: the index could not be asked (Redis is known to be
        down); an event with no claim for it is then unroutable. A session in `refused`
        (Redis refuses its owner key, for good) has no owner the index can tell: its waiting
        events are dead-lettered (`internal_error`, with Redis's reason), the rest go on."""
        refused = refused or {}
        if before is not None:
            won = {
                s: user for s, user in triage.claims.items() if s not in before and s not in refused
            }
            self._owners.update(won | dict(before))
        waiting, triage.waiting = triage.waiting, []
        deliver: list[tuple[int, tuple[Record, SseMessage]]] = []
        letters: list[tuple[int, DeadLetter]] = []
        for w in waiting:
            owner = before.get(w.raw.session_id) if before else None
            why = refused.get(w.raw.session_id)
            verdict: SseMessage | Rejection
            try:
                if why is not None:
                    verdict = Rejection(
                        Reason.INTERNAL_ERROR, f"the session's owner cannot be known: {why}"
                    )
                else:
                    envelope = self._filter.admit(
                        w.raw, owned_by(w.raw, owner or w.named), now=triage.now
                    )
                    verdict = self._message(envelope, w.traceparent)
            except Exception as exc:  # one record's problem, never the batch's (SPEC §15)
                verdict = internal_error(exc, "checking")
            if isinstance(verdict, SseMessage):
                deliver.append((w.at, (w.record, verdict)))
                triage.sampled += bool(verdict.traceparent)
            elif before is None and verdict.reason is Reason.NO_USER:
                triage.unroutable.append(w.record)
            else:
                letters.append(
                    (w.letter_at, DeadLetter(w.record, verdict.reason.value, verdict.message))
                )
                _count(triage.invalid_by_reason, verdict.reason.value)
        triage.deliver = _merged(triage.deliver, deliver)
        triage.letters = _merged(triage.letters, letters)

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
                obj = self._filter.decode(record.value, self._loads)
            except Exception as exc:  # one record's problem, never the batch's (SPEC §15)
                obj = internal_error(exc, "decoding")
            objects.append(obj)
        return Decoded(records, objects)

    def triage(
        self,
        decoded: Decoded,
        *,
        now: datetime,
        part: slice = slice(None),
        into: Triage | None = None,
    ) -> Triage:
        """Verdicts in record order, but for the events that wait for the owner index.

        With `part` and `into`, one slice of the batch is added to a Triage in progress (the
        slices in order), so a caller can yield to other work between slices.
        """
        out = Triage(now=now) if into is None else into
        for record, obj in zip(decoded.records[part], decoded.objects[part], strict=True):
            verdict: SseMessage | Rejection | None
            try:
                verdict = obj if isinstance(obj, Rejection) else self._verdict(record, obj, out)
            except Exception as exc:  # one record's problem, never the batch's (SPEC §15)
                verdict = internal_error(exc, "checking")
            if verdict is None:
                continue
            if isinstance(verdict, SseMessage):
                out.deliver.append((record, verdict))
                if verdict.traceparent:
                    out.sampled += 1
            elif verdict.verdict is Verdict.IGNORED:
                out.ignored.append(record)
                _count(out.ignored_by_reason, verdict.reason.value)
            else:
                out.letters.append(DeadLetter(record, verdict.reason.value, verdict.message))
                _count(out.invalid_by_reason, verdict.reason.value)
        return out

    def _verdict(
        self, record: Record, obj: dict[str, Any], out: Triage
    ) -> SseMessage | Rejection | None:
        """Screen one decoded record, then route and map it; None when it waits for the
        owner index (an owner-less event of a session with no confirmed owner)."""
        headers, traceparent = known_headers(record.headers)
        raw = self._filter.screen(obj, headers)
        if isinstance(raw, Rejection):
            return raw
        owners = self._owners
        if raw.user_value is None:
            session = raw.session_id
            owner = owners.get(session)
            # A session that is no UUID is refused by the filter: the index is never asked.
            if owner is None and is_uuid(session):
                named = owners.named(session)
                if named is not None:
                    out.claims.setdefault(session, named)
                else:
                    out.lookups.add(session)
                at = Waiting(record, raw, named, traceparent, len(out.deliver), len(out.letters))
                out.waiting.append(at)
                return None
            user = owned_by(raw, owner)  # resolve_user's rule for an event without a user id
        else:
            user = resolve_user(raw, owners.get)  # its own user id: the owners are not asked
        return self._message(self._filter.admit(raw, user, now=out.now), traceparent)

    def _message(
        self, checked: Envelope | Rejection, traceparent: TraceParent | None
    ) -> SseMessage | Rejection:
        """Map an admitted event; a delivery that names its user names the user its
        session's later owner-less events are claimed for."""
        if isinstance(checked, Rejection):
            return checked
        message = self._mapper.to_message(checked, traceparent)
        if isinstance(message, SseMessage) and message.teaches_owner:
            self._owners.name(message.session_id, message.user_id)
        return message
