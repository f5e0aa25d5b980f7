"""A bounded `python -m simulator load --topology cluster`: 3 Kafka brokers, the 3+3 Redis
Cluster, 2 bridges (static members), 2 gateways behind nginx, simulated browsers through it,
and a fault schedule: a bridge, a gateway and the Kafka broker leading the most partitions
SIGKILLed and restarted (and a Redis master, once durable acks are there to survive it).
Nothing may be lost, duplicated, reordered or misrouted, and after every fault deliveries
of what it held must resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.redis.settings import RedisSettings
from simulator.genesis_model import TrafficConfig
from simulator.kafka_cluster import LocalKafkaCluster
from simulator.load import LoadPlan, LoadRun, clean
from simulator.load_faults import Fault
from simulator.redis_cluster import LocalRedisCluster
from simulator.services import Services

pytestmark = pytest.mark.timeout(300)

STEP_S = 9.0  # seconds between two faults (and before the first, after the last)


def _durable_acks() -> bool:
    """Whether this checkout has `redis.min_replicas` (WAIT before offsets are committed)."""
    return "min_replicas" in RedisSettings.model_fields


def test_a_cluster_load_run_through_its_fault_schedule_loses_nothing(
    kafka_cluster: LocalKafkaCluster,
    redis_cluster: LocalRedisCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kinds = ["bridge", "gateway", "kafka"]
    if _durable_acks():
        kinds.append("redis")
        monkeypatch.setenv("EVENTBRIDGE__REDIS__MIN_REPLICAS", "1")  # the processes inherit it
    svc = Services(
        kafka_bootstrap=kafka_cluster.bootstrap,
        redis_url=redis_cluster.url,
        kafka_source="local",
        redis_source="local",
        topology="cluster",
        redis_cluster=True,
        redis_local_cluster=redis_cluster,
        kafka_cluster=kafka_cluster,
    )
    plan = LoadPlan(
        traffic=TrafficConfig(
            seed=13,
            users=30,
            rate=100.0,
            # A fault waits for the one before to be healthy again (a restarted broker's full
            # ISR can take ~10 s here, ~25 s on a loaded machine): one more step of traffic,
            # and the traffic outlasts a late schedule (load_faults.traffic_end).
            duration_s=STEP_S * (len(kinds) + 2),
            bad_ratio=0.02,
        ),
        restart_at_s=None,
        policy="pause",
        partitions=6,
        cool_down_s=5.0,
        settle_s=60.0,
        png=None,
        json=None,
        workdir=tmp_path,
        topology="cluster",
        bridges=2,
        gateways=2,
        faults=tuple(Fault(kind, STEP_S * (i + 1)) for i, kind in enumerate(kinds)),
        down_s=2.0,
    )
    try:
        report = LoadRun(plan, svc, tmp_path).run()
    finally:  # the session's clusters stay whole for the tests after this one
        kafka_cluster.wait_in_sync(timeout_s=90)
        redis_cluster.wait_healthy(60)
    text = report.text()
    assert report.settings["fault_errors"] == [], text
    assert [f["kind"] for f in report.faults] == kinds, text
    assert (report.lost, report.duplicated, report.out_of_order, report.misrouted) == (
        0,
        0,
        0,
        0,
    ), text
    assert report.delivered == report.expected_delivered > 0, text
    checked = report.redis_check
    assert (checked["lost"], checked["duplicated"], checked["out_of_order"]) == (0, 0, 0), text
    assert checked["misrouted"] == checked["dlq_missing"] == 0, text
    assert clean(report), text
    for fault in report.faults:
        assert fault["resumed_s"] is not None, text  # what it held was delivered again
    # The killed gateway's browsers came back through the balancer, on the other gateway or
    # on the restarted one, resuming where they were (nothing lost or duplicated above).
    assert report.reconnects >= 1, text
