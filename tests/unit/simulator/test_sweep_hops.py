"""The sweep's hops: quantiles from a process's /metrics histogram, and from the browser."""

from __future__ import annotations

import argparse

import pytest

from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.prometheus import exposition
from adapters.telemetry.setup import build_providers
from application.ports import BatchReport
from simulator.hops import histogram_quantiles, hops_ms, produce_to_ack_ms, xadd_to_client_ms
from simulator.load_sse import Receipt
from simulator.sweep import count_of, rates_of, rounds_of, users_for

pytestmark = pytest.mark.unit


def metrics_of(reports: list[BatchReport]) -> str:
    providers = build_providers(service_name="t", sample_ratio=0.0)
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    for report in reports:
        telemetry.batch_processed(report)
    body, _ = exposition(providers.registry)
    providers.shutdown()
    return body.decode()


def test_a_hops_quantiles_come_from_the_bridges_histogram() -> None:
    fetched = [0.0012] * 90 + [0.018] * 10  # 90 events in the 1-1.5 ms bucket, 10 at 15-20 ms
    text = metrics_of([BatchReport(consumed=100, fetched_after_seconds=fetched)])
    q = histogram_quantiles(text, "produce_to_fetch")
    assert q is not None
    assert 1.0 < q["p50"] < 1.5
    assert 15.0 < q["p99"] <= 20.0
    assert histogram_quantiles(text, "fetch_to_redis_ack") is None  # nothing observed
    assert histogram_quantiles("", "produce_to_fetch") is None  # not exposed: n/a


def test_every_hop_is_measured_or_not_available() -> None:
    text = metrics_of([BatchReport(consumed=1, acked_after_fetch_seconds=0.002)])
    receipts = {"7": [Receipt("e", "s", "1700000000000-0", 1_700_000_000.004)]}
    hops = hops_ms({"bridge": text, "gateway": ""}, receipts)
    assert hops["produce → fetched"] is None
    ack = hops["fetched → Redis ack"]
    assert ack is not None
    assert 1.5 <= ack["p50"] <= 2.0
    assert hops["Redis ack → SSE write"] is None
    client = hops["Redis XADD → client"]
    assert client is not None
    assert client["p50"] == pytest.approx(4.0, abs=0.01)
    assert xadd_to_client_ms({"7": [Receipt("e", "s", "not-an-id", 1.0)]}) is None
    assert hops["produce → Kafka ack"] is None  # the producer's acks not given: n/a


def test_the_producers_hop_runs_from_each_hand_over_to_kafkas_ack() -> None:
    sent = [("a", 100.000), ("b", 100.010), ("c", 100.020), ("", 100.030)]
    acked = [("b", 100.016), ("a", 100.002)]  # c never acknowledged; a bad record has no id
    q = produce_to_ack_ms(sent, acked)
    assert q is not None
    assert q["p50"] == pytest.approx(2.0, abs=0.01)
    assert q["p99"] == pytest.approx(6.0, abs=0.01)
    hops = hops_ms({}, {}, sent=sent, acked=acked)
    assert hops["produce → Kafka ack"] == q
    assert produce_to_ack_ms(sent, []) is None


def test_the_sweeps_rates_and_users() -> None:
    assert rates_of("2, 20,200") == [2.0, 20.0, 200.0]
    with pytest.raises(argparse.ArgumentTypeError):
        rates_of("2,fast")
    with pytest.raises(argparse.ArgumentTypeError):
        rates_of("0")
    assert [users_for(r) for r in (2, 20, 200, 1000, 3000)] == [2, 4, 40, 200, 200]


def test_the_sweeps_rounds_and_warm_up_are_counts() -> None:
    assert (rounds_of("3"), count_of("0")) == (3, 0)
    for bad in ("0", "-1", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            rounds_of(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        count_of("-5")
