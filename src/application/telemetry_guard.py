"""GuardedTelemetry: the Telemetry port's promise (never raises) kept, whatever the adapter does."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from application.ports import UNTRACED, BatchReport, PublishResult, PublishTrace, Telemetry
from domain.model import Record, SseMessage

log = logging.getLogger("eventbridge.telemetry")

LOG_EVERY = 1000  # after the first, one log line per this many failures (never a flood)


class _Failures:
    """Counts telemetry calls that raised; logs the first (with its traceback), then every
    LOG_EVERY-th, so a broken telemetry is loud once and never floods the log."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, call: str, exc: Exception) -> None:
        self.count += 1
        if self.count == 1 or self.count % LOG_EVERY == 0:
            log.error(
                "telemetry failed; the bridge goes on without it",
                extra={"call": call, "error": f"{type(exc).__name__}: {exc}"[:300],
                       "failures": self.count},
                exc_info=self.count == 1,
            )  # fmt: skip


class _GuardedTrace:
    """A PublishTrace whose failures are counted, never raised."""

    __slots__ = ("_failed", "_trace")

    def __init__(self, trace: PublishTrace, failed: _Failures) -> None:
        self._trace = trace
        self._failed = failed

    def succeeded(self, results: Sequence[PublishResult]) -> None:
        try:
            self._trace.succeeded(results)
        except Exception as exc:  # a telemetry bug: the write is booked all the same
            self._failed("trace.succeeded", exc)

    def failed(self, error: str) -> None:
        try:
            self._trace.failed(error)
        except Exception as exc:
            self._failed("trace.failed", exc)


class GuardedTelemetry:
    """Telemetry around another whose calls may raise: what raises is counted and logged (as
    `_Failures` does) and the call returns as if it had worked — no span (UNTRACED) for a
    failed `publish_started`. So a telemetry bug (a hostile header a tracer chokes on, an SDK
    error) can neither kill the bridge nor change what it writes, books or commits.
    CancelledError is not an Exception: it passes.
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self._failed = _Failures()

    @property
    def failures(self) -> int:
        """Telemetry calls that raised so far."""
        return self._failed.count

    def batch_processed(self, report: BatchReport) -> None:
        try:
            self._telemetry.batch_processed(report)
        except Exception as exc:  # the port promises no error: this is where it is kept
            self._failed("batch_processed", exc)

    def publish_started(self, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        try:
            trace = self._telemetry.publish_started(traced)
        except Exception as exc:
            self._failed("publish_started", exc)
            return UNTRACED
        return trace if trace is UNTRACED else _GuardedTrace(trace, self._failed)

    def breaker_changed(self, old: str, new: str) -> None:
        try:
            self._telemetry.breaker_changed(old, new)
        except Exception as exc:
            self._failed("breaker_changed", exc)

    def partitions_paused(self, count: int) -> None:
        try:
            self._telemetry.partitions_paused(count)
        except Exception as exc:
            self._failed("partitions_paused", exc)

    def partitions_resumed(self, count: int) -> None:
        try:
            self._telemetry.partitions_resumed(count)
        except Exception as exc:
            self._failed("partitions_resumed", exc)


def guarded(telemetry: Telemetry) -> GuardedTelemetry:
    """`telemetry` with its promise kept (once: a guarded telemetry is not wrapped again)."""
    return telemetry if isinstance(telemetry, GuardedTelemetry) else GuardedTelemetry(telemetry)
