"""BatchOutcome: the bookkeeping of one batch, turned into a report and a log line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from application.ports import BatchReport, DeadLetter, PublishResult
from application.triage import Triage
from domain.model import Record, SseMessage
from domain.reasons import Reason


class BatchOutcome:
    """Counts what happened to a batch's records once its triage is known."""

    def __init__(self, records: Sequence[Record], triage: Triage) -> None:
        self.records = records
        self.triage = triage
        self.report = BatchReport(
            consumed=len(records),
            ignored_by_reason=dict(triage.ignored_by_reason),
            invalid_by_reason=dict(triage.invalid_by_reason),
            dead_lettered=len(triage.letters),
        )

    def messages(self) -> list[SseMessage]:
        return [message for _, message in self.triage.deliver]

    def letters(self) -> list[DeadLetter]:
        return self.triage.letters

    def published(self, results: Sequence[PublishResult], seconds: float, now_s: float) -> None:
        report = self.report
        report.publish_seconds = seconds
        by_type = report.published_by_type
        latencies = report.end_to_end_seconds
        refused = Reason.INTERNAL_ERROR.value
        invalid = report.invalid_by_reason
        for (_, message), result in zip(self.triage.deliver, results, strict=True):
            if result.refused is not None:  # dead-lettered by the write itself
                invalid[refused] = invalid.get(refused, 0) + 1
                report.dead_lettered += 1
                continue
            if result.duplicate:
                report.duplicates += 1
                continue
            by_type[message.event_type] = by_type.get(message.event_type, 0) + 1
            if message.timestamp_s:
                latencies.append(now_s - message.timestamp_s)

    def dropped(self, reason: str) -> None:
        """Every event this batch would have delivered, or could not route, is dropped."""
        n = len(self.triage.deliver) + len(self.triage.unroutable)
        if n:
            self.report.dropped_by_reason[reason] = self.report.dropped_by_reason.get(reason, 0) + n


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
