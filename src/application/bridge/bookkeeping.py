"""Bookkeeping: what one try at a batch came to, as values — finished, kept, reported. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from application.ports import BatchReport, PublishResult
from application.triage import Triage
from domain.model import Record
from domain.reasons import Reason


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a batch, once every call it made has answered.

    `results` is what the store answered for the deliveries (None: the write or the owner
    lookup before it failed, or it was not attempted); `letters_sent` whether the batch's dead
    letters went out; `letters_failed` whether one of them (an invalid record, or a message the
    store refused for good) was not acknowledged; `dropped` the drop policy's reason when the
    write was not attempted at all (Redis known to be down).
    """

    records: Sequence[Record]
    triage: Triage
    results: Sequence[PublishResult] | None
    letters_sent: bool = True
    letters_failed: bool = False
    dropped: str | None = None
    publish_seconds: float = 0.0
    fetched_s: float | None = None  # when the batch was fetched (epoch s); None for a retry
    acked_s: float | None = None  # when Redis answered the write (epoch s)


@dataclass(frozen=True, slots=True)
class Booked:
    """The records now finished (committable) with the report of them, and those kept for a
    retry. Together they are the batch, each record once."""

    finished: Sequence[Record] = ()
    report: BatchReport | None = None
    kept: Sequence[Record] = field(default_factory=tuple)


def book(attempt: Attempt, *, now_s: float) -> Booked:
    """A batch is finished when every record is: published (or a duplicate), ignored, or
    dead-lettered and acknowledged — or, under `drop`, counted as dropped. A failed dead
    letter keeps the whole batch (republishing is idempotent). A failed write keeps the batch
    but for the dead letters that went out beside it and were acknowledged: those are done, so
    a retry (which may route differently once more owners are known) cannot also deliver one.
    `now_s` (epoch seconds) dates the end-to-end latencies of what was published when the
    time Redis answered is not known."""
    records, triage = attempt.records, attempt.triage
    report = BatchReport(
        consumed=len(records),
        ignored_by_reason=dict(triage.ignored_by_reason),
        invalid_by_reason=dict(triage.invalid_by_reason),
        dead_lettered=len(triage.letters),
    )
    if attempt.results is not None:
        acked_s = attempt.acked_s or now_s
        _published(report, triage, attempt.results, attempt.publish_seconds, acked_s)
        if attempt.fetched_s is not None and triage.deliver:
            _hops(report, records, attempt.fetched_s, acked_s)
    if attempt.letters_failed:
        return Booked(kept=records)
    if attempt.dropped is not None:
        n = len(triage.deliver) + len(triage.unroutable)
        if n:
            report.dropped_by_reason[attempt.dropped] = n
        return Booked(records, report)
    if attempt.results is None:
        if not attempt.letters_sent or not triage.letters:
            return Booked(kept=records)
        lettered = [letter.record for letter in triage.letters]
        done = {id(record) for record in lettered}
        only_letters = BatchReport(
            consumed=len(lettered),
            invalid_by_reason=dict(triage.invalid_by_reason),
            dead_lettered=len(lettered),
        )
        return Booked(lettered, only_letters, [r for r in records if id(r) not in done])
    return Booked(records, report)


def _published(
    report: BatchReport,
    triage: Triage,
    results: Sequence[PublishResult],
    seconds: float,
    now_s: float,
) -> None:
    """Count what the store did with each delivery: appended (by event type, with its
    end-to-end latency), a duplicate, or refused for good (then dead-lettered by the write)."""
    report.publish_seconds = seconds
    by_type = report.published_by_type
    latencies = report.end_to_end_seconds
    refused = Reason.INTERNAL_ERROR.value
    invalid = report.invalid_by_reason
    for (_, message), result in zip(triage.deliver, results, strict=True):
        if result.refused is not None:
            invalid[refused] = invalid.get(refused, 0) + 1
            report.dead_lettered += 1
            continue
        if result.duplicate:
            report.duplicates += 1
            continue
        by_type[message.event_type] = by_type.get(message.event_type, 0) + 1
        if message.timestamp_s:
            latencies.append(now_s - message.timestamp_s)


HOP_SAMPLES = 20  # records per batch whose produce -> fetched time is reported (~6 us each)


def _hops(report: BatchReport, records: Sequence[Record], fetched_s: float, acked_s: float) -> None:
    """Produce -> fetched (the record's CreateTime, when the source knows it) for at most
    HOP_SAMPLES records evenly spaced through the batch, and fetched -> Redis ack."""
    step = max(len(records) / HOP_SAMPLES, 1.0)
    sampled = (records[int(i * step)] for i in range(min(len(records), HOP_SAMPLES)))
    report.fetched_after_seconds = [
        fetched_s - r.timestamp_ms / 1000 for r in sampled if r.timestamp_ms > 0
    ]
    report.acked_after_fetch_seconds = acked_s - fetched_s


def log_fields(r: BatchReport, breaker: str) -> dict[str, Any]:
    """The summary log line of what was finished at once (a batch, or its dead letters)."""
    return {
        "consumed": r.consumed,
        "published": r.published,
        "duplicates": r.duplicates,
        "ignored": sum(r.ignored_by_reason.values()),
        "dead_lettered": r.dead_lettered,
        "dropped": sum(r.dropped_by_reason.values()),
        "publish_ms": round(r.publish_seconds * 1000, 2) if r.publish_seconds else None,
        "breaker": breaker,
    }
