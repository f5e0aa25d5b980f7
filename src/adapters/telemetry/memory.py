"""InMemoryTelemetry: totals of every BatchReport, for health output and for tests."""

from __future__ import annotations

from collections.abc import Sequence

from application.ports import BatchReport, PublishTrace, Untraced
from domain.model import Record, SseMessage


class InMemoryTelemetry:
    """Telemetry that keeps running totals and breaker transitions in memory (no spans)."""

    def __init__(self) -> None:
        self.totals = BatchReport()
        self.batches = 0
        self.transitions: list[tuple[str, str]] = []
        self.paused = 0
        self.resumed = 0

    def batch_processed(self, report: BatchReport) -> None:
        self.batches += 1
        self.totals.add(report)

    def publish_started(self, deliver: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        return Untraced([message for _, message in deliver])

    def breaker_changed(self, old: str, new: str) -> None:
        self.transitions.append((old, new))

    def partitions_paused(self, count: int) -> None:
        self.paused += 1

    def partitions_resumed(self, count: int) -> None:
        self.resumed += 1
