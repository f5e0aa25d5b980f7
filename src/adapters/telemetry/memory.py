"""InMemoryTelemetry: totals of every BatchReport, for health output and for tests."""

from __future__ import annotations

from collections.abc import Sequence

from application.ports import UNTRACED, BatchReport, PublishTrace
from domain.model import Record, SseMessage


class InMemoryTelemetry:
    """Telemetry that keeps running totals and breaker transitions in memory (no spans)."""

    def __init__(self) -> None:
        self.totals = BatchReport()
        self.batches = 0
        self.transitions: list[tuple[str, str]] = []
        self.paused = 0
        self.resumed = 0
        self.traced = 0  # deliveries handed over for spans (their traces were sampled)

    def batch_processed(self, report: BatchReport) -> None:
        self.batches += 1
        self.totals.add(report)

    def publish_started(self, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        self.traced += len(traced)
        return UNTRACED

    def breaker_changed(self, old: str, new: str) -> None:
        self.transitions.append((old, new))

    def partitions_paused(self, count: int) -> None:
        self.paused += 1

    def partitions_resumed(self, count: int) -> None:
        self.resumed += 1
