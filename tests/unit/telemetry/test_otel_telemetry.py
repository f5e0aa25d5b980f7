"""OtelTelemetry and OtelGatewayTelemetry, read back through the Prometheus exposition."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.telemetry.gateway import OtelGatewayTelemetry
from adapters.telemetry.otel import (
    END_TO_END_PER_BATCH,
    MAX_EVENT_TYPE_LABELS,
    OtelTelemetry,
    evenly_spaced,
)
from adapters.telemetry.prometheus import exposition
from adapters.telemetry.setup import TelemetryProviders, build_providers
from application.gateway.counts import GatewayCounts
from application.ports import BatchReport, BridgeHealth
from domain.gateway.notices import NoticeKind
from domain.model import Partition
from tests.unit.telemetry.metrics_reading import label_names, samples, total

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


@pytest.fixture
def providers() -> Iterator[TelemetryProviders]:
    built = build_providers(service_name="eventbridge-test", sample_ratio=1.0)
    yield built
    built.shutdown()


def scrape(providers: TelemetryProviders) -> str:
    body, content_type = exposition(providers.registry)
    assert content_type.startswith("text/plain")
    return body.decode()


def a_report() -> BatchReport:
    return BatchReport(
        consumed=10,
        published_by_type={"Genesis.Session.Started": 3, "Genesis.Session.Seed.Requested": 2},
        ignored_by_reason={"not_whitelisted": 1},
        invalid_by_reason={"invalid_json": 2},
        dropped_by_reason={"breaker_open": 1},
        dead_lettered=2,
        duplicates=1,
        publish_seconds=0.004,
        end_to_end_seconds=[0.01, 0.02, 0.03, 0.04, 0.05],
        fetched_after_seconds=[0.002, 0.003, -0.001],
        acked_after_fetch_seconds=0.0015,
    )


def test_batch_counters_add_up_per_label_after_two_batches(providers: TelemetryProviders) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    telemetry.batch_processed(a_report())
    telemetry.batch_processed(a_report())
    text = scrape(providers)
    assert total(text, "eventbridge_events_consumed_total") == 20
    assert total(text, "eventbridge_events_published_total") == 10
    assert (
        total(text, "eventbridge_events_published_total", event_type="Genesis.Session.Started") == 6
    )
    assert total(text, "eventbridge_events_ignored_total", reason="not_whitelisted") == 2
    assert total(text, "eventbridge_events_invalid_total", reason="invalid_json") == 4
    assert total(text, "eventbridge_events_dropped_total", reason="breaker_open") == 2
    assert total(text, "eventbridge_events_dead_lettered_total") == 4
    assert total(text, "eventbridge_duplicates_suppressed_total") == 2
    assert total(text, "eventbridge_redis_publish_seconds_count") == 2
    assert total(text, "eventbridge_end_to_end_seconds_count", stage="redis_ack") == 10
    assert total(text, "eventbridge_batch_size_sum") == 20
    assert total(text, "eventbridge_hop_seconds_count", hop="produce_to_fetch") == 6
    assert total(text, "eventbridge_hop_seconds_count", hop="fetch_to_redis_ack") == 2
    assert total(text, "eventbridge_hop_seconds_sum", hop="fetch_to_redis_ack") == pytest.approx(
        0.003
    )
    # A clock skew between hosts never makes a negative hop.
    assert total(text, "eventbridge_hop_seconds_bucket", hop="produce_to_fetch", le="0.0001") == 2


def test_a_large_batch_records_an_even_sample_of_its_end_to_end_latencies(
    providers: TelemetryProviders,
) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    latencies = [i / 1000 for i in range(1, 1001)]  # 1 ms .. 1 s, one per event
    telemetry.batch_processed(BatchReport(consumed=1000, end_to_end_seconds=latencies))
    text = scrape(providers)
    count = total(text, "eventbridge_end_to_end_seconds_count", stage="redis_ack")
    mean = total(text, "eventbridge_end_to_end_seconds_sum", stage="redis_ack") / count
    assert count == END_TO_END_PER_BATCH
    assert mean == pytest.approx(sum(latencies) / len(latencies), rel=0.01)
    assert evenly_spaced([0.1, 0.2], END_TO_END_PER_BATCH) == [0.1, 0.2]


def test_bounded_series_exist_at_zero_before_anything_happens(
    providers: TelemetryProviders,
) -> None:
    OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    text = scrape(providers)
    for old, new in [("closed", "open"), ("half_open", "closed")]:
        assert total(text, "eventbridge_breaker_transitions_total", **{"from": old, "to": new}) == 0
    assert 'eventbridge_events_dropped_total{reason="redis_unavailable"} 0.0' in text
    assert 'eventbridge_events_invalid_total{reason="oversized"} 0.0' in text


def test_breaker_transitions_and_pauses_are_counted(providers: TelemetryProviders) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    telemetry.breaker_changed("closed", "open")
    telemetry.breaker_changed("open", "half_open")
    telemetry.breaker_changed("half_open", "open")
    telemetry.partitions_paused(6)
    telemetry.partitions_resumed(6)
    text = scrape(providers)
    assert total(text, "eventbridge_breaker_transitions_total") == 3
    assert total(text, "eventbridge_breaker_transitions_total", **{"from": "half_open"}) == 1
    assert total(text, "eventbridge_partition_pauses_total") == 1


def test_gauges_are_read_from_the_bridge_health_snapshot(providers: TelemetryProviders) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    health = BridgeHealth(
        breaker_state="half_open",
        failure_rate=0.75,
        totals=BatchReport(),
        publish_ok=1,
        publish_failed=3,
        lag={Partition("genesis", 0): 7, Partition("genesis", 1): 5},
        assigned=2,
        paused=2,
        backlog=40,
        seconds_without_assignment=0.0,
        backlog_bytes=81_920,
    )
    telemetry.watch(lambda: health)
    text = scrape(providers)
    assert total(text, "eventbridge_consumer_lag", partition="0") == 7
    assert total(text, "eventbridge_consumer_lag") == 12
    assert total(text, "eventbridge_breaker_state", state="half_open") == 1
    assert total(text, "eventbridge_breaker_state") == 1
    assert total(text, "eventbridge_breaker_failure_rate") == 0.75
    assert total(text, "eventbridge_partitions_paused") == 2
    assert total(text, "eventbridge_backlog_records") == 40
    assert total(text, "eventbridge_backlog_bytes") == 81_920


def test_no_label_can_carry_a_user_id(providers: TelemetryProviders) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    telemetry.batch_processed(a_report())
    gateway = OtelGatewayTelemetry(meter=providers.meter_provider.get_meter("g"))
    gateway.rejected("too_many_connections")
    labels = label_names(scrape(providers))
    assert labels <= {
        "event_type", "reason", "from", "to", "stage", "state", "topic", "partition", "le", "hop",
        "task", "kind", "bound", "service_name", "service_instance_id", "telemetry_sdk_language",
        "telemetry_sdk_name", "telemetry_sdk_version",
    }  # fmt: skip


def test_gateway_task_restarts_are_counted_per_task_from_zero(
    providers: TelemetryProviders,
) -> None:
    gateway = OtelGatewayTelemetry(meter=providers.meter_provider.get_meter("g"))
    gateway.task_restarted("tick")
    text = scrape(providers)
    assert total(text, "eventbridge_gateway_task_restarts_total", task="tick") == 1
    assert total(text, "eventbridge_gateway_task_restarts_total", task="subscription") == 0
    assert total(text, "eventbridge_gateway_task_restarts_total", task="lease_renewal") == 0


def test_invented_event_types_cannot_grow_the_label_set_without_bound(
    providers: TelemetryProviders,
) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    invented = {f"Genesis.Session.X{'a' * (i % 50)}{i}.Requested": 1 for i in range(1000)}
    telemetry.batch_processed(BatchReport(consumed=1000, published_by_type=invented))
    text = scrape(providers)
    values = {
        dict(ls)["event_type"]
        for (n, ls) in samples(text)
        if n == "eventbridge_events_published_total"
    }
    assert len(values) == MAX_EVENT_TYPE_LABELS + 1
    assert "other" in values
    assert total(text, "eventbridge_events_published_total") == 1000


def test_gateway_connections_sends_disconnects_and_latency(providers: TelemetryProviders) -> None:
    gateway = OtelGatewayTelemetry(meter=providers.meter_provider.get_meter("g"))
    gateway.connection_opened()
    gateway.connection_opened()
    gateway.connection_closed("slow_client")
    counts = GatewayCounts(sent=3)
    counts.notices[NoticeKind.DIRECT] = 2
    gateway.watch(counts)
    for seconds in (0.1, 0.2, 0.3):
        gateway.latency(seconds, seconds / 2)
    gateway.latency(None, None)  # a write whose first event has no timestamp
    gateway.rejected("too_many_connections")
    text = scrape(providers)
    assert total(text, "eventbridge_sse_connections") == 1
    assert total(text, "eventbridge_sse_sent_total") == 3
    assert total(text, "eventbridge_sse_disconnects_total", reason="slow_client") == 1
    assert total(text, "eventbridge_sse_disconnects_total", reason="client") == 0
    assert total(text, "eventbridge_sse_rejected_total", reason="too_many_connections") == 1
    assert total(text, "eventbridge_end_to_end_seconds_count", stage="sse_write") == 3
    assert total(text, "eventbridge_hop_seconds_count", hop="redis_to_sse_write") == 3
    assert total(text, "eventbridge_gateway_notifications_total", kind="direct") == 2
    assert total(text, "eventbridge_gateway_notifications_total", kind="ignored") == 0


def test_a_dead_letter_burst_is_logged_as_its_own_line(
    providers: TelemetryProviders, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"), dlq_burst=2)
    with caplog.at_level("WARNING", logger="eventbridge.telemetry"):
        telemetry.batch_processed(BatchReport(consumed=5, dead_lettered=1))
        telemetry.batch_processed(a_report())
    assert [r.getMessage() for r in caplog.records] == ["dead-letter burst"]
