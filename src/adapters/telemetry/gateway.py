"""OtelGatewayTelemetry: the gateway's GatewayTelemetry on an OpenTelemetry Meter."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from adapters.telemetry.otel import end_to_end_histogram, hop_histogram
from application.gateway.counts import BUFFER_BOUNDS, GatewayCounts
from application.gateway.ports import BACKGROUND_TASKS, CLOSE_REASONS
from domain.gateway.notices import NoticeKind

SSE_WRITE = {"stage": "sse_write"}
REDIS_TO_SSE_WRITE = {"hop": "redis_to_sse_write"}


class OtelGatewayTelemetry:
    """SSE connections, messages sent, disconnects and rejections by reason, end-to-end latency
    and the Redis -> SSE write hop (one sample per write), notifications by what became of them,
    restarts of the background loops.

    Reasons and task names are the gateway's fixed codes, so they are bounded labels; no user id
    is recorded.
    """

    def __init__(self, *, meter: Meter) -> None:
        self._connections = meter.create_up_down_counter(
            "eventbridge_sse_connections", "{connection}", "Open SSE connections"
        )
        self._counts = GatewayCounts()
        meter.create_observable_counter(
            "eventbridge_sse_sent",
            [lambda _: [Observation(self._counts.sent)]],
            "{event}",
            "Events written to SSE connections",
        )
        self._disconnects = meter.create_counter(
            "eventbridge_sse_disconnects", "{connection}", "SSE connections closed, by reason"
        )
        self._rejected = meter.create_counter(
            "eventbridge_sse_rejected", "{request}", "SSE or ticket requests refused, by reason"
        )
        self._restarts = meter.create_counter(
            "eventbridge_gateway_task_restarts",
            "{restart}",
            "Background loops (subscription, tick, lease renewal) restarted after dying, by task",
        )
        self._end_to_end = end_to_end_histogram(meter)
        self._hops = hop_histogram(meter)
        meter.create_observable_counter(
            "eventbridge_gateway_notifications",
            [self._observe_notices],
            "{notification}",
            "Notifications received for a connection (direct, read) or for none (ignored), by kind",
        )
        meter.create_observable_counter(
            "eventbridge_gateway_slow_client_cuts",
            [self._observe_cuts],
            "{connection}",
            "Slow clients cut off, by the bound their buffer was full at: messages, bytes (the "
            "connection's), process_bytes (all connections')",
        )
        meter.create_observable_gauge(
            "eventbridge_gateway_buffered_bytes",
            [lambda _: [Observation(self._counts.buffered_bytes)]],
            "By",
            "Bytes every connection holds now, queued or being written",
        )
        self._connections.add(0)
        for reason in CLOSE_REASONS:  # preset at zero
            self._disconnects.add(0, {"reason": reason})
        for task in BACKGROUND_TASKS:
            self._restarts.add(0, {"task": task})

    def connection_opened(self) -> None:
        self._connections.add(1)

    def connection_closed(self, reason: str) -> None:
        self._connections.add(-1)
        self._disconnects.add(1, {"reason": reason})

    def latency(self, end_to_end_s: float | None, stored_s: float | None) -> None:
        if end_to_end_s is not None:
            self._end_to_end.record(end_to_end_s, SSE_WRITE)
        if stored_s is not None:
            self._hops.record(max(stored_s, 0.0), REDIS_TO_SSE_WRITE)

    def rejected(self, reason: str) -> None:
        self._rejected.add(1, {"reason": reason})

    def task_restarted(self, task: str) -> None:
        self._restarts.add(1, {"task": task})

    def watch(self, counts: GatewayCounts) -> None:
        self._counts = counts

    def _observe_cuts(self, _: CallbackOptions) -> Iterable[Observation]:
        cuts = self._counts.cuts
        return [Observation(cuts.get(bound, 0), {"bound": bound}) for bound in BUFFER_BOUNDS]

    def _observe_notices(self, _: CallbackOptions) -> Iterable[Observation]:
        notices = self._counts.notices
        return [Observation(notices.get(kind, 0), {"kind": kind.value}) for kind in NoticeKind]
