"""OtelGatewayTelemetry: the gateway's GatewayTelemetry on an OpenTelemetry Meter."""

from __future__ import annotations

from opentelemetry.metrics import Meter

from adapters.telemetry.otel import end_to_end_histogram
from application.gateway.ports import BACKGROUND_TASKS, CLOSE_REASONS

SSE_WRITE = {"stage": "sse_write"}


class OtelGatewayTelemetry:
    """SSE connections, messages sent, disconnects and rejections by reason, end-to-end latency,
    restarts of the background loops.

    Reasons and task names are the gateway's fixed codes, so they are bounded labels; no user id
    is recorded.
    """

    def __init__(self, *, meter: Meter) -> None:
        self._connections = meter.create_up_down_counter(
            "eventbridge_sse_connections", "{connection}", "Open SSE connections"
        )
        self._sent = meter.create_counter(
            "eventbridge_sse_sent", "{event}", "Events written to SSE connections"
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
        self._connections.add(0)
        self._sent.add(0)
        for reason in CLOSE_REASONS:  # preset at zero
            self._disconnects.add(0, {"reason": reason})
        for task in BACKGROUND_TASKS:
            self._restarts.add(0, {"task": task})

    def connection_opened(self) -> None:
        self._connections.add(1)

    def connection_closed(self, reason: str) -> None:
        self._connections.add(-1)
        self._disconnects.add(1, {"reason": reason})

    def sent(self, count: int, end_to_end_seconds: list[float]) -> None:
        self._sent.add(count)
        record = self._end_to_end.record
        for seconds in end_to_end_seconds:
            record(seconds, SSE_WRITE)

    def rejected(self, reason: str) -> None:
        self._rejected.add(1, {"reason": reason})

    def task_restarted(self, task: str) -> None:
        self._restarts.add(1, {"task": task})
