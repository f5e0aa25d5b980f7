"""Durable acknowledgement (redis.min_replicas): its settings, and what a WAIT shortfall does to
the bridge's bookkeeping, readiness and metrics, over the fakes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from adapters.redis.replication import MasterReplication, master_state
from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.prometheus import exposition
from adapters.telemetry.setup import TelemetryProviders, build_providers
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from domain.model import Partition
from eventbridge.health import Replication, readiness
from eventbridge.settings import SettingsError, load_settings
from simulator.genesis import generate_n
from tests.bridge_over_fakes import bridge_over_fakes
from tests.unit.telemetry.metrics_reading import samples, total

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = Partition("genesis", 0)
E = "EVENTBRIDGE__REDIS__"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EVENTBRIDGE"):
            monkeypatch.delenv(name)


def test_durable_acknowledgement_is_off_by_default_with_a_short_timeout() -> None:
    redis = load_settings().redis
    assert redis.min_replicas == 0
    assert 100 <= redis.replica_timeout_ms <= 500


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({E + "MIN_REPLICAS": "-1"}, "redis.min_replicas"),
        ({E + "MIN_REPLICAS": "one"}, "redis.min_replicas"),
        ({E + "REPLICA_TIMEOUT_MS": "0"}, "redis.replica_timeout_ms"),  # WAIT 0 never returns
        (
            {E + "MIN_REPLICAS": "1", E + "REPLICA_TIMEOUT_MS": "2000"},  # socket gives up first
            "redis.replica_timeout_ms",
        ),
        (
            {E + "MIN_REPLICAS": "1", E + "SOCKET_TIMEOUT_S": "0.1"},
            "redis.replica_timeout_ms",
        ),
    ],
    ids=["negative", "not a number", "zero timeout", "past the socket", "socket too short"],
)
def test_a_durability_setting_that_cannot_work_stops_startup_naming_its_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], key: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    env_name = "EVENTBRIDGE__" + key.replace(".", "__").upper()
    assert f"eventbridge.{key} ({env_name}): " in str(refused.value)


def test_a_long_timeout_is_taken_when_no_replica_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(E + "REPLICA_TIMEOUT_MS", "5000")
    assert load_settings().redis.replica_timeout_ms == 5000


class World:
    """A bridge over the fakes whose store may fall short of its replicas."""

    def __init__(self, n: int = 120) -> None:
        self.clock = FakeClock()
        self.source = FakeEventSource(self.clock, [P])
        self.store = FakeStreamStore()
        self.records = generate_n(n, seed=12, users=5, bad_ratio=0.0, clock=self.clock.wall)
        for r in self.records:
            self.source.append(P, r.key, r.value, r.headers)
        breaker = CircuitBreaker(BreakerPolicy(minimum_calls=2, cool_down_s=5.0))
        self.bridge: BridgeService = bridge_over_fakes(
            self.clock,
            self.source,
            store=self.store,
            breaker=breaker,
            policy=BridgePolicy(max_batch=40, commit_every_records=1),
        )

    def steps(self, n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await self.bridge.step()
                self.clock.advance(1.0)
            await self.bridge.settle()

        asyncio.run(go())

    def delivered(self) -> list[str]:
        return [m.event_id for s in self.store.streams.values() for _, m in s.entries]


def test_a_write_its_replicas_did_not_confirm_is_never_committed_and_opens_the_breaker() -> None:
    w = World()
    w.store.replicas_short_of = 1
    w.steps(6)
    assert w.source.committed.get(P, 0) == 0  # written on the "master", never confirmed
    assert w.bridge.breaker.state is not BreakerState.CLOSED
    health = w.bridge.health()
    assert health.replica_shortfalls >= 2
    assert health.replica_shortfall is not None
    assert "WAIT 1" in health.replica_shortfall
    assert w.source.paused() == frozenset({P})  # the pause policy holds the partition


def test_once_replicas_confirm_again_every_event_is_delivered_once_and_committed() -> None:
    w = World()
    w.store.replicas_short_of = 1
    w.steps(6)
    w.store.replicas_short_of = 0
    w.steps(40)
    expected = [r.expect.event_id for r in w.records if r.expect.outcome == "delivered"]
    delivered = w.delivered()
    assert sorted(delivered) == sorted(expected)  # each once: the retries were duplicates
    assert w.source.committed[P] == len(w.records)
    health = w.bridge.health()
    assert health.replica_shortfall is None
    assert health.replica_shortfalls >= 2  # a count since start: it stays


def masters(*online: int | None) -> list[MasterReplication]:
    return [MasterReplication(f"127.0.0.1:{7000 + i}", n) for i, n in enumerate(online)]


def test_readiness_says_replicas_short_after_a_shortfall_and_names_it() -> None:
    w = World()
    w.store.replicas_short_of = 1
    w.steps(3)
    w.store.available = True
    replication = Replication(min_replicas=1, timeout_ms=250, masters=masters(1, 1))
    ok, body = asyncio.run(
        readiness(w.bridge.health(), w.store, no_assignment_grace_s=60, replication=replication)
    )
    assert not ok
    assert "redis_replicas_short" in body["reasons"]
    shown = body["redis"]["replication"]
    assert shown["min_replicas"] == 1
    assert shown["shortfalls"] >= 1
    assert "WAIT 1" in shown["last_shortfall"]
    assert [m["replicas_online"] for m in shown["masters"]] == [1, 1]


def test_readiness_says_replicas_short_when_a_master_has_too_few_before_any_write() -> None:
    w = World(n=0)
    short = Replication(min_replicas=1, timeout_ms=250, masters=masters(1, 0, 1))
    _, body = asyncio.run(
        readiness(w.bridge.health(), w.store, no_assignment_grace_s=60, replication=short)
    )
    assert "redis_replicas_short" in body["reasons"]
    enough = Replication(min_replicas=1, timeout_ms=250, masters=masters(1, 1, None))
    _, body = asyncio.run(
        readiness(w.bridge.health(), w.store, no_assignment_grace_s=60, replication=enough)
    )
    assert "redis_replicas_short" not in body["reasons"]  # an unanswered INFO proves nothing
    asynchronous = Replication(min_replicas=0, timeout_ms=250, masters=masters(0))
    _, body = asyncio.run(
        readiness(w.bridge.health(), w.store, no_assignment_grace_s=60, replication=asynchronous)
    )
    assert "redis_replicas_short" not in body["reasons"]  # none asked for: reported only
    assert body["redis"]["replication"]["masters"][0]["replicas_online"] == 0


def test_info_replication_is_read_as_replicas_online_bytes_behind_and_lag() -> None:
    text = (
        "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
        "slave0:ip=127.0.0.1,port=7003,state=online,offset=900,lag=0\r\n"
        "slave1:ip=127.0.0.1,port=7004,state=wait_bgsave,offset=0,lag=3\r\n"
        "master_repl_offset:1000\r\n"
    )
    state = master_state("n", text.encode())
    assert (state.replicas_online, state.behind_bytes, state.lag_s) == (1, 100, 0)
    parsed = {"master_repl_offset": 5, "connected_slaves": 0}
    assert master_state("n", parsed).replicas_online == 0


@pytest.fixture
def providers() -> Iterator[TelemetryProviders]:
    built = build_providers(service_name="eventbridge-test", sample_ratio=1.0)
    yield built
    built.shutdown()


def test_wait_shortfalls_are_a_counter_without_labels(providers: TelemetryProviders) -> None:
    w = World()
    w.store.replicas_short_of = 1
    w.steps(3)
    telemetry = OtelTelemetry(meter=providers.meter_provider.get_meter("t"))
    telemetry.watch(w.bridge.health)
    text = exposition(providers.registry)[0].decode()
    name = "eventbridge_redis_replica_shortfalls_total"
    assert total(text, name) == w.bridge.health().replica_shortfalls >= 1
    series = [ls for (n, ls) in samples(text) if n == name]
    assert series == [frozenset()]  # one series, no label: nothing per user or per node
