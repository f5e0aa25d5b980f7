"""Leases: one contract, run against FakeLeases and RedisLeases alike (limit 2, 30 s leases)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from application.gateway.ports import LeaseRefused, Leases
from application.ports import StoreUnavailable
from tests.contracts.gateway_ports import Factory, leases_factory

pytestmark = pytest.mark.timeout(60)
T = 1_900_000_000.0  # the leases' clock is passed in: unix seconds, shared by every gateway


@pytest.fixture(params=["fake", "real", "real-cluster"])
def leases(request: pytest.FixtureRequest) -> Factory:
    return leases_factory(request)


def run(factory: Factory, body: Callable[[Leases, Leases], Awaitable[None]]) -> None:
    async def scenario() -> None:
        async with factory() as (working, broken):
            await body(working, broken)

    asyncio.run(asyncio.wait_for(scenario(), 30))


async def _refused(leases: Leases, user: str, conn_id: str, now: float) -> int:
    with pytest.raises(LeaseRefused) as refused:
        await leases.acquire(user, conn_id, now=now)
    return refused.value.retry_after_s


def test_a_user_gets_the_limit_of_leases_then_a_retry_after_until_the_earliest_expires(
    leases: Factory,
) -> None:
    async def body(leases: Leases, _: Leases) -> None:
        await leases.acquire("u1", "c1", now=T)
        await leases.acquire("u1", "c2", now=T + 5)
        assert await _refused(leases, "u1", "c3", T + 10) == 20  # c1 lives until T + 30
        assert await _refused(leases, "u1", "c3", T + 29.8) == 1  # at least a second
        await leases.acquire("u2", "c1", now=T + 10)  # other users are not affected

    run(leases, body)


def test_an_expired_lease_no_longer_counts(leases: Factory) -> None:
    async def body(leases: Leases, _: Leases) -> None:
        await leases.acquire("u1", "c1", now=T)
        await leases.acquire("u1", "c2", now=T + 5)
        await leases.acquire("u1", "c3", now=T + 30)  # c1 expired at T + 30 exactly
        assert await _refused(leases, "u1", "c4", T + 34) == 1
        await leases.acquire("u1", "c4", now=T + 35)

    run(leases, body)


def test_check_refuses_at_the_limit_and_takes_nothing(leases: Factory) -> None:
    async def body(leases: Leases, _: Leases) -> None:
        for _ in range(3):
            await leases.check("u1", now=T)  # takes nothing: never refused by itself
        await leases.acquire("u1", "c1", now=T)
        await leases.acquire("u1", "c2", now=T + 1)
        with pytest.raises(LeaseRefused) as refused:
            await leases.check("u1", now=T + 10)
        assert refused.value.retry_after_s == 20
        await leases.check("u1", now=T + 30)  # c1 is gone

    run(leases, body)


def test_renewal_extends_leases_that_exist_and_never_brings_back_a_released_one(
    leases: Factory,
) -> None:
    async def body(leases: Leases, _: Leases) -> None:
        await leases.acquire("u1", "live", now=T)
        await leases.acquire("u1", "closing", now=T)
        snapshot = [("u1", "live"), ("u1", "closing"), ("u9", "never-leased")]
        await leases.release("u1", "closing")  # the client left after the snapshot was taken
        await leases.renew(snapshot, now=T + 20)
        await leases.acquire("u1", "reconnect", now=T + 21)  # "closing" was not brought back
        assert await _refused(leases, "u1", "third", T + 40) == 10  # "live" lives to T + 50
        await leases.check("u9", now=T + 40)
        await leases.renew([], now=T + 41)

    run(leases, body)


def test_release_and_release_all_give_leases_back_and_are_idempotent(leases: Factory) -> None:
    async def body(leases: Leases, _: Leases) -> None:
        await leases.acquire("u1", "c1", now=T)
        await leases.acquire("u1", "c2", now=T)
        await leases.acquire("u2", "c1", now=T)
        await leases.acquire("u2", "c2", now=T)
        await leases.release("u1", "c1")
        await leases.release("u1", "c1")
        await leases.acquire("u1", "c3", now=T + 1)
        await leases.release_all([("u1", "c2"), ("u1", "c3"), ("u2", "c1"), ("u2", "c2")])
        await leases.release_all([("u1", "c2")])
        await leases.release_all([])
        for user in ("u1", "u2"):
            await leases.acquire(user, "a", now=T + 2)
            await leases.acquire(user, "b", now=T + 2)

    run(leases, body)


def test_every_call_raises_store_unavailable_when_redis_cannot_answer(leases: Factory) -> None:
    async def body(_: Leases, broken: Leases) -> None:
        calls: list[Callable[[], Awaitable[None]]] = [
            lambda: broken.acquire("u1", "c1", now=T),
            lambda: broken.check("u1", now=T),
            lambda: broken.renew([("u1", "c1")], now=T),
            lambda: broken.release("u1", "c1"),
            lambda: broken.release_all([("u1", "c1")]),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call()

    run(leases, body)
