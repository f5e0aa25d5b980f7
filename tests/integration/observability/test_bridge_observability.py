"""A real bridge process scraped over its own HTTP port: metrics equal what happened (SPEC §9)."""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.telemetry.gateway import OtelGatewayTelemetry
from adapters.telemetry.prometheus import exposition
from adapters.telemetry.setup import build_providers
from eventbridge import health
from eventbridge.settings import EventBridgeSettings
from simulator.genesis import generate_n
from simulator.processes import free_port
from simulator.produce import produce_all
from simulator.services import Services
from simulator.verify import Verification
from tests.integration.bridge_env import BridgeRun, messages
from tests.integration.observability.scrape import dashboard_metrics, metrics_text, ready
from tests.unit.telemetry.metrics_reading import family_names, total

pytestmark = pytest.mark.timeout(300)

N = 4000


@dataclass
class Scraped:
    metrics: str
    readyz: tuple[int, dict[str, Any]]
    health_exit: int
    health_json: dict[str, Any]
    verification: Verification
    log: list[str]


@pytest.fixture(scope="module")
def finished_run(real_services: Services, tmp_path_factory: pytest.TempPathFactory) -> Scraped:
    """One bridge over N simulated records, scraped after it committed every one."""
    port = free_port()
    run = BridgeRun(
        real_services,
        uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("observed"),
        bridge={"http_port": port},
    )
    traffic = generate_n(N, seed=31, users=30, bad_ratio=0.04)

    async def scenario() -> Scraped:
        await run.create_topic()
        await produce_all(real_services.kafka_bootstrap, run.topic, traffic)
        bridge = run.bridge()
        bridge.start()
        try:
            await run.wait_drained()
            text = await metrics_text(port)
            readyz = await ready(port)
            out = io.StringIO()
            settings = EventBridgeSettings(bridge={"http_port": port})  # type: ignore[arg-type]
            code = await asyncio.to_thread(health.main, settings, out)
        finally:
            assert bridge.terminate() == 0
        return Scraped(
            text, readyz, code, orjson.loads(out.getvalue()),
            await run.verification(traffic), messages(bridge),
        )  # fmt: skip

    return asyncio.run(scenario())


def test_scraped_counters_equal_what_verifiably_happened(finished_run: Scraped) -> None:
    text, v = finished_run.metrics, finished_run.verification
    consumed = total(text, "eventbridge_events_consumed_total")
    published = total(text, "eventbridge_events_published_total")
    ignored = total(text, "eventbridge_events_ignored_total")
    invalid = total(text, "eventbridge_events_invalid_total")
    dropped = total(text, "eventbridge_events_dropped_total")
    duplicates = total(text, "eventbridge_duplicates_suppressed_total")
    dead_lettered = total(text, "eventbridge_events_dead_lettered_total")
    assert v.exactly_once, v
    assert v.dlq_exact, v
    assert consumed == N
    assert (duplicates, dropped) == (0, 0)
    assert consumed == published + ignored + invalid + dropped
    assert published == v.delivered == v.expected_delivered
    assert ignored == v.expected_ignored
    assert dead_lettered == invalid == v.expected_invalid == v.dead_lettered > 0
    observed = total(text, "eventbridge_end_to_end_seconds_count", stage="redis_ack")
    assert 0 < observed <= published  # at most END_TO_END_PER_BATCH per batch
    assert total(text, "eventbridge_batch_size_sum") == N
    assert total(text, "eventbridge_redis_publish_seconds_count") > 0
    assert total(text, "eventbridge_consumer_lag") == 0
    assert total(text, "eventbridge_breaker_state", state="closed") == 1


def test_readyz_and_the_health_command_report_the_same_ready_bridge(finished_run: Scraped) -> None:
    status, body = finished_run.readyz
    assert (status, body["status"]) == (200, "ready"), body
    assert body["counters"]["consumed"] == N
    assert body["counters"]["invalid"] == finished_run.verification.expected_invalid
    assert body["circuit_breaker"]["state"] == "closed"
    assert body["publish_success_rate"] == 1.0
    assert body["lag"]["total"] == 0
    assert body["partitions"]["assigned"] == 6
    assert finished_run.health_exit == 0
    assert finished_run.health_json["counters"] == body["counters"]


def test_the_log_has_one_summary_line_per_batch_and_no_line_per_event(
    finished_run: Scraped,
) -> None:
    batches = total(finished_run.metrics, "eventbridge_batch_size_count")
    assert finished_run.log.count("batch") == batches
    assert "bridge http listening" in finished_run.log
    assert len(finished_run.log) < N / 4


def test_every_grafana_panel_queries_metrics_that_are_exposed(finished_run: Scraped) -> None:
    providers = build_providers(service_name="gateway", sample_ratio=0.0)
    gateway = OtelGatewayTelemetry(meter=providers.meter_provider.get_meter("g"))
    gateway.latency(0.01, 0.005)
    gateway.rejected("too_many_connections")
    exposed = family_names(finished_run.metrics) | family_names(
        exposition(providers.registry)[0].decode()
    )
    providers.shutdown()
    panels = dashboard_metrics()
    assert len(panels) >= 10
    missing = {title: names - exposed for title, names in panels.items() if names - exposed}
    assert not missing, missing
    assert all(panels.values()), "every panel queries at least one metric"


def assert_transitions_match_the_log(text: str, log: list[str]) -> None:
    """Each breaker transition counted in /metrics happened, and was logged, that many times."""
    for old, new in [("closed", "open"), ("open", "half_open"), ("half_open", "open"),
                     ("half_open", "closed")]:  # fmt: skip
        counted = total(text, "eventbridge_breaker_transitions_total", **{"from": old, "to": new})
        assert counted == log.count(f"breaker {old} -> {new}") > 0, (old, new)


def test_a_redis_outage_counts_breaker_transitions_and_readyz_turns_503(
    real_services: Services, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child inherits our environment: a leaked EVENTBRIDGE_CONFIG (the seed's YAML) would
    # bring its 60 s recovery_timeout and no probe would come within this test's deadlines.
    monkeypatch.delenv("EVENTBRIDGE_CONFIG", raising=False)
    if real_services.redis is None:
        pytest.skip("needs a Redis this test started itself (REDIS_URL points elsewhere)")
    redis = real_services.redis
    port = free_port()
    run = BridgeRun(
        real_services,
        unique,
        tmp_path,
        bridge={"http_port": port, "max_batch": 200, "retry_backoff_s": 0.2},
        circuit_breaker={"window_s": 5, "minimum_calls": 2, "cool_down_s": 1},
        redis={"socket_timeout_s": 0.5, "connect_timeout_s": 0.5},
    )
    traffic = generate_n(3000, seed=37, users=20, bad_ratio=0.02)
    half = len(traffic) // 2

    async def scenario() -> None:
        await run.create_topic()
        await produce_all(real_services.kafka_bootstrap, run.topic, traffic[:half])
        bridge = run.bridge()
        bridge.start()
        try:
            await run.wait_drained()
            assert (await ready(port))[0] == 200
            redis.stop()
            try:
                await produce_all(real_services.kafka_bootstrap, run.topic, traffic[half:])

                async def unready() -> bool:
                    status, body = await ready(port)
                    return status == 503 and "redis_unreachable" in body["reasons"]

                await run.wait_for(unready, "/readyz to turn 503", timeout_s=30)

                async def probed_twice() -> bool:
                    text = await metrics_text(port)
                    return total(text, "eventbridge_breaker_transitions_total", to="half_open") >= 2

                await run.wait_for(probed_twice, "two timed probes", timeout_s=60)
                text = await metrics_text(port)
                assert total(text, "eventbridge_breaker_state", state="closed") == 0
                assert total(text, "eventbridge_partitions_paused") == 6
            finally:
                redis.start()
            await run.wait_drained()

            async def ready_again() -> bool:
                return (await ready(port))[0] == 200

            await run.wait_for(ready_again, "/readyz to recover", timeout_s=30)
            text = await metrics_text(port)
        finally:
            assert bridge.terminate() == 0
        assert_transitions_match_the_log(text, messages(bridge))
        assert total(text, "eventbridge_breaker_state", state="closed") == 1
        assert total(text, "eventbridge_partition_pauses_total") >= 1
        consumed = total(text, "eventbridge_events_consumed_total")
        parts = ["published", "ignored", "invalid", "dropped"]
        accounted = sum(total(text, f"eventbridge_events_{p}_total") for p in parts)
        duplicates = total(text, "eventbridge_duplicates_suppressed_total")
        assert consumed == len(traffic) == accounted + duplicates
        v = await run.verification(traffic)
        assert v.exactly_once, v

    asyncio.run(scenario())
