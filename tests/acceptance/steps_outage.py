"""Steps about outages and restarts: Redis, the breaker and its policies, the DLQ, rebalances."""

from __future__ import annotations

from dataclasses import replace

from pytest_bdd import given, parsers, then, when

from application.policy import OpenPolicy
from domain.breaker import BreakerPolicy, BreakerState
from tests.acceptance.fake_world import PARTITIONS, FakeWorld
from tests.acceptance.world import World


def fake(world: World) -> FakeWorld:
    assert isinstance(world, FakeWorld), "this step runs against the bridge over fakes"
    return world


@given("Redis becomes unavailable")
def redis_unavailable(world: World) -> None:
    world.redis_down()


@when("Redis comes back")
def redis_comes_back(world: World) -> None:
    world.redis_up()
    world.notes["redis back at"] = len(world.named.get("proposal", []))


@when("Redis restarts while the traffic is being delivered")
def redis_restarts_midway(world: World) -> None:
    world.restart_redis_during_traffic()


@given("the outage policy is drop")
def policy_is_drop(world: World) -> None:
    w = fake(world)
    w.configure(policy=replace(w.policy, on_open=OpenPolicy.DROP))


@given(
    parsers.parse(
        "the breaker is configured the seed's way with {failures:d} failures"
        " and a {seconds:d} second recovery"
    )
)
def seed_breaker(world: World, failures: int, seconds: int) -> None:
    fake(world).configure(breaker=BreakerPolicy.from_seed(failures, seconds))


@given("the bridge commits its progress only once a minute")
def commits_once_a_minute(world: World) -> None:
    w = fake(world)
    w.configure(policy=replace(w.policy, commit_interval_s=60.0, commit_every_records=100_000))


def _time_passes(world: World, seconds: float) -> None:
    """Time passes and the bridge takes its next turn (the breaker's timer acts then)."""
    w = fake(world)
    w.notes["calls before"] = w.store.calls
    w.notes["transitions before"] = len(w.telemetry.transitions)
    w.advance(seconds)
    w.step()


@when("the cool-down passes")
@when("the cool-down passes without any new event")
def cool_down_passes(world: World) -> None:
    _time_passes(world, fake(world).breaker_policy.cool_down_s)


@when(parsers.parse("{seconds:d} seconds pass"))
@when(parsers.parse("{seconds:d} more second passes"))
def seconds_pass(world: World, seconds: int) -> None:
    _time_passes(world, seconds)


def _transitions_since(world: FakeWorld) -> list[tuple[str, str]]:
    return world.telemetry.transitions[world.notes["transitions before"] :]


@then("the breaker is open")
def breaker_open(world: World) -> None:
    assert fake(world).bridge.breaker.state is BreakerState.OPEN


@then("the breaker is closed")
def breaker_closed(world: World) -> None:
    assert fake(world).bridge.breaker.state is BreakerState.CLOSED


@then("the breaker has let one probe through and closed")
def probe_closed(world: World) -> None:
    w = fake(world)
    assert _transitions_since(w) == [("open", "half_open"), ("half_open", "closed")]


@then("the breaker let exactly one probe through, which failed")
def probe_failed(world: World) -> None:
    w = fake(world)
    assert _transitions_since(w) == [("open", "half_open"), ("half_open", "open")]
    assert w.store.calls - w.notes["calls before"] == 1


@then("the partitions are paused")
def partitions_paused(world: World) -> None:
    assert fake(world).src.paused() == frozenset(PARTITIONS)


@then("the partitions are consuming")
@then("the partitions are consuming again")
def partitions_consuming(world: World) -> None:
    assert fake(world).src.paused() == frozenset()


@then("nothing is committed past the last event Redis acknowledged")
def nothing_committed_unacknowledged(world: World) -> None:
    w = fake(world)
    assert not w.all_committed()
    in_redis = {m.event_id for messages in w.all_received().values() for m in messages}
    for _, meant in w.committed_records():
        if meant.expect.outcome == "delivered":
            assert meant.expect.event_id in in_redis


@then("the proposals that arrived while the breaker was open are counted as dropped")
def dropped_counted(world: World) -> None:
    w = fake(world)
    while_open = len(w.named["proposal while open"])
    assert while_open > 0
    assert w.dropped() == {"breaker_open": while_open}


@given("the dead-letter queue is unavailable")
def dlq_unavailable(world: World) -> None:
    fake(world).dlq.available = False


@when("the dead-letter queue is available again")
def dlq_available(world: World) -> None:
    fake(world).dlq.available = True


@then("the malformed record is not committed")
def malformed_not_committed(world: World) -> None:
    w = fake(world)
    arrival = w.last("arrival")
    assert all(meant is not arrival for _, meant in w.committed_records())


@when("the bridge restarts with an empty memory")
def bridge_restarts(world: World) -> None:
    fake(world).restart(crash=False)


@when("the bridge crashes and restarts")
def bridge_crashes(world: World) -> None:
    fake(world).restart(crash=True)


@given("the bridge has delivered that traffic without committing it")
def delivered_not_committed(world: World) -> None:
    w = fake(world)
    w.process_some(len(w.produced))  # each step's write is done; no idle step yet, which commits
    assert w.all_received()
    assert not any(w.src.committed.values())


@given("the bridge has processed half of what has arrived")
def processed_half(world: World) -> None:
    w = fake(world)
    w.process_some(len(w.produced) // 2)


@when("the partitions are taken away in a rebalance and given back")
def rebalance(world: World) -> None:
    w = fake(world)
    w.runner.run(w.src.revoke(PARTITIONS))
    w.runner.run(w.src.assign(PARTITIONS))


@when("the bridge is asked to shut down")
def shut_down(world: World) -> None:
    w = fake(world)
    w.runner.run(w.bridge.drain())


@then("asking it to shut down again commits nothing more")
def shut_down_again(world: World) -> None:
    w = fake(world)
    commits = w.src.commits
    w.runner.run(w.bridge.drain())
    assert w.src.commits == commits
