"""OtelTelemetry: the bridge's Telemetry port on OpenTelemetry meters and tracers (docs/metrics.md).

Counters are added once per batch (one call per label value); only end-to-end latencies are
recorded per event. Gauges (lag, breaker state, assignment) are observed from the bridge's
health snapshot when a reader collects, never on the hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation
from opentelemetry.trace import Tracer

from adapters.telemetry.tracing import start_publish
from application.ports import UNTRACED, BatchReport, BridgeHealth, PublishTrace
from domain.breaker import BreakerState
from domain.model import Record, SseMessage
from domain.reasons import VERDICT_OF, Verdict

log = logging.getLogger("eventbridge.telemetry")

# Seconds; from a few milliseconds (Redis round trip) to minutes (a backlog after an outage).
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
)  # fmt: skip
# Seconds of one hop of an event's way (issue 16): fine where real time is judged (1-20 ms).
HOP_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
    0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
PRODUCE_TO_FETCH = {"hop": "produce_to_fetch"}
FETCH_TO_REDIS_ACK = {"hop": "fetch_to_redis_ack"}
BATCH_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)
TRANSITIONS = (("closed", "open"), ("open", "half_open"), ("half_open", "closed"),
               ("half_open", "open"))  # fmt: skip
DROP_REASONS = ("breaker_open", "redis_unavailable")
REDIS_ACK = {"stage": "redis_ack"}
# One observation costs ~6 us in the OTel SDK, a tenth of the bridge's CPU per event at full
# speed. So a batch records the end-to-end latency of at most this many of its events, evenly
# spaced through it: every event of a small batch, a uniform sample of a large one. The
# distribution (and so every quantile) is kept; `_count` counts observations, not events.
END_TO_END_PER_BATCH = 100
# The whitelist's `*` matches unboundedly many types (`Genesis.Session.<Any>.Requested`): past
# this many distinct ones, a hostile producer's invented types share one label value.
MAX_EVENT_TYPE_LABELS = 200
OTHER_EVENT_TYPE = "other"


def end_to_end_histogram(meter: Meter) -> Histogram:
    """One instrument for both stages: the bridge records `redis_ack`, the gateway `sse_write`."""
    return meter.create_histogram(
        "eventbridge_end_to_end_seconds",
        "s",
        "From the event's own timestamp to the Redis ack (stage=redis_ack) or SSE write",
        explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
    )


def hop_histogram(meter: Meter) -> Histogram:
    """One instrument for every hop: the bridge records `produce_to_fetch` and
    `fetch_to_redis_ack`; a gateway may add its own (`redis_to_sse_write`)."""
    return meter.create_histogram(
        "eventbridge_hop_seconds",
        "s",
        "Time an event spent on one hop of its way (label hop)",
        explicit_bucket_boundaries_advisory=HOP_BUCKETS,
    )


def evenly_spaced(values: list[float], most: int) -> list[float]:
    """All of `values` when there are at most `most`, else `most` of them evenly spaced."""
    if len(values) <= most:
        return values
    step = len(values) / most
    return [values[int(i * step)] for i in range(most)]


class OtelTelemetry:
    """Telemetry on an OpenTelemetry Meter (and a Tracer when tracing is on).

    A batch whose dead letters are at least `dlq_burst` records and `dlq_burst_share` of the
    batch is logged as its own WARNING line ("dead-letter burst"), with counts by reason.
    """

    def __init__(
        self,
        *,
        meter: Meter,
        tracer: Tracer | None = None,
        dlq_burst: int = 10,
        dlq_burst_share: float = 0.2,
    ) -> None:
        self._tracer = tracer
        self._dlq_burst = dlq_burst
        self._dlq_burst_share = dlq_burst_share
        self._health: Callable[[], BridgeHealth] | None = None
        self._event_types: set[str] = set()
        ev = "{event}"
        self._consumed = meter.create_counter(
            "eventbridge_events_consumed", ev, "Records fetched from Kafka and finished"
        )
        self._published = meter.create_counter(
            "eventbridge_events_published", ev, "Events newly appended to a user's Redis stream"
        )
        self._ignored = meter.create_counter(
            "eventbridge_events_ignored", ev, "Valid events not meant for browsers, by reason"
        )
        self._invalid = meter.create_counter(
            "eventbridge_events_invalid", ev, "Malformed events (dead-lettered), by reason"
        )
        self._dropped = meter.create_counter(
            "eventbridge_events_dropped", ev, "Events dropped under the drop policy, by reason"
        )
        self._dead_lettered = meter.create_counter(
            "eventbridge_events_dead_lettered", ev, "Records acknowledged by the dead-letter topic"
        )
        self._duplicates = meter.create_counter(
            "eventbridge_duplicates_suppressed", ev, "Redeliveries already in the user's stream"
        )
        self._transitions = meter.create_counter(
            "eventbridge_breaker_transitions", "{transition}", "Circuit-breaker state changes"
        )
        self._pauses = meter.create_counter(
            "eventbridge_partition_pauses", "{pause}", "Times the assigned partitions were paused"
        )
        self._publish_seconds = meter.create_histogram(
            "eventbridge_redis_publish_seconds",
            "s",
            "Duration of one batch's Redis write (script pipeline)",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self._end_to_end = end_to_end_histogram(meter)
        self._hops = hop_histogram(meter)
        self._batch_size = meter.create_histogram(
            "eventbridge_batch_size",
            "{record}",
            "Records per finished batch",
            explicit_bucket_boundaries_advisory=BATCH_BUCKETS,
        )
        self._preset_series()
        meter.create_observable_gauge(
            "eventbridge_consumer_lag",
            [self._observe_lag],
            "{record}",
            "Highwater minus next offset, per assigned partition",
        )
        meter.create_observable_gauge(
            "eventbridge_breaker_state",
            [self._observe_state],
            "1",
            "1 for the breaker's current state, 0 for the others",
        )
        meter.create_observable_gauge(
            "eventbridge_breaker_failure_rate",
            [self._observe(lambda h: h.failure_rate)],
            "1",
            "Failed Redis calls over calls in the breaker's window",
        )
        meter.create_observable_gauge(
            "eventbridge_partitions_assigned",
            [self._observe(lambda h: h.assigned)],
            "{partition}",
            "Partitions assigned to this bridge",
        )
        meter.create_observable_gauge(
            "eventbridge_partitions_paused",
            [self._observe(lambda h: h.paused)],
            "{partition}",
            "Partitions paused while Redis is unavailable",
        )
        meter.create_observable_gauge(
            "eventbridge_backlog_records",
            [self._observe(lambda h: h.backlog)],
            "{record}",
            "Fetched records kept for a retry (bounded by bridge.max_backlog_records)",
        )
        meter.create_observable_counter(
            "eventbridge_redis_replica_shortfalls",
            [self._observe(lambda h: h.replica_shortfalls)],
            "{write}",
            "Writes Redis took but fewer than redis.min_replicas replicas confirmed (WAIT)",
        )
        meter.create_observable_gauge(
            "eventbridge_backlog_bytes",
            [self._observe(lambda h: h.backlog_bytes)],
            "By",
            "Bytes of the records kept for a retry (bounded by bridge.max_backlog_bytes)",
        )

    def _preset_series(self) -> None:
        """Bounded label sets start at zero, so dashboards and rate() see them before they move."""
        for old, new in TRANSITIONS:
            self._transitions.add(0, {"from": old, "to": new})
        for reason in DROP_REASONS:
            self._dropped.add(0, {"reason": reason})
        for code, verdict in VERDICT_OF.items():
            target = self._ignored if verdict is Verdict.IGNORED else self._invalid
            target.add(0, {"reason": code.value})
        for counter in (self._consumed, self._dead_lettered, self._duplicates, self._pauses):
            counter.add(0)

    def watch(self, health: Callable[[], BridgeHealth]) -> None:
        """The bridge's health snapshot, read when gauges are collected."""
        self._health = health

    def batch_processed(self, report: BatchReport) -> None:
        self._consumed.add(report.consumed)
        self._batch_size.record(report.consumed)
        for event_type, n in report.published_by_type.items():
            self._published.add(n, {"event_type": self._type_label(event_type)})
        for reason, n in report.ignored_by_reason.items():
            self._ignored.add(n, {"reason": reason})
        for reason, n in report.invalid_by_reason.items():
            self._invalid.add(n, {"reason": reason})
        for reason, n in report.dropped_by_reason.items():
            self._dropped.add(n, {"reason": reason})
        if report.dead_lettered:
            self._dead_lettered.add(report.dead_lettered)
        if report.duplicates:
            self._duplicates.add(report.duplicates)
        if report.publish_seconds is not None:
            self._publish_seconds.record(report.publish_seconds)
        record = self._end_to_end.record
        for seconds in evenly_spaced(report.end_to_end_seconds, END_TO_END_PER_BATCH):
            record(seconds, REDIS_ACK)
        hop = self._hops.record
        for seconds in report.fetched_after_seconds:  # already at most HOP_SAMPLES
            hop(max(seconds, 0.0), PRODUCE_TO_FETCH)  # clocks of two hosts may disagree a bit
        if report.acked_after_fetch_seconds is not None:
            hop(report.acked_after_fetch_seconds, FETCH_TO_REDIS_ACK)
        dead = report.dead_lettered
        if dead >= self._dlq_burst and dead >= self._dlq_burst_share * report.consumed:
            log.warning(
                "dead-letter burst",
                extra={
                    "dead_lettered": report.dead_lettered,
                    "consumed": report.consumed,
                    "reasons": report.invalid_by_reason,
                },
            )

    def _type_label(self, event_type: str) -> str:
        """The event type as a label value, while fewer than MAX_EVENT_TYPE_LABELS were seen."""
        seen = self._event_types
        if event_type in seen:
            return event_type
        if len(seen) < MAX_EVENT_TYPE_LABELS:
            seen.add(event_type)
            return event_type
        return OTHER_EVENT_TYPE

    def publish_started(self, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        if self._tracer is None:
            return UNTRACED
        return start_publish(self._tracer, traced)

    def breaker_changed(self, old: str, new: str) -> None:
        self._transitions.add(1, {"from": old, "to": new})

    def partitions_paused(self, count: int) -> None:
        self._pauses.add(1)

    def partitions_resumed(self, count: int) -> None:
        return None  # the pause counter and the paused gauge already tell the story

    def _observe_lag(self, _: CallbackOptions) -> Iterable[Observation]:
        if self._health is None:
            return []
        return [
            Observation(n, {"topic": p.topic, "partition": str(p.partition)})
            for p, n in self._health().lag.items()
        ]

    def _observe_state(self, _: CallbackOptions) -> Iterable[Observation]:
        if self._health is None:
            return []
        current = self._health().breaker_state
        return [Observation(int(s.value == current), {"state": s.value}) for s in BreakerState]

    def _observe(
        self, value: Callable[[BridgeHealth], float]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(_: CallbackOptions) -> Iterable[Observation]:
            return [] if self._health is None else [Observation(value(self._health()))]

        return callback
