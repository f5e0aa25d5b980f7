"""Tickets: one contract, run against FakeTickets and RedisTickets alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from application.ports import StoreUnavailable
from domain.gateway.credentials import Principal, valid_ticket
from tests.contracts.gateway_ports import Factory, TicketsUnderTest, tickets_factory

pytestmark = pytest.mark.timeout(60)
ALICE = Principal("alice@x.io", 1_900_000_123.25)


@pytest.fixture(params=["fake", "real", "real-cluster"])
def tickets(request: pytest.FixtureRequest) -> Factory:
    return tickets_factory(request)


def run(factory: Factory, body: Callable[[TicketsUnderTest], Awaitable[None]]) -> None:
    async def scenario() -> None:
        async with factory() as t:
            await body(t)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_ticket_stands_for_its_principal_until_redeemed_once(tickets: Factory) -> None:
    async def body(t: TicketsUnderTest) -> None:
        ticket = await t.tickets.issue(ALICE, 30)
        assert valid_ticket(ticket)
        assert await t.tickets.peek(ticket) == ALICE
        assert await t.tickets.peek(ticket) == ALICE  # peeking uses nothing
        assert await t.tickets.redeem(ticket) == ALICE
        assert await t.tickets.redeem(ticket) is None
        assert await t.tickets.peek(ticket) is None
        assert await t.tickets.peek("t" * 43) is None

    run(tickets, body)


def test_each_ticket_is_new_and_concurrent_redeems_consume_it_exactly_once(
    tickets: Factory,
) -> None:
    async def body(t: TicketsUnderTest) -> None:
        issued = {await t.tickets.issue(ALICE, 30) for _ in range(5)}
        assert len(issued) == 5
        ticket = issued.pop()
        results = await asyncio.gather(*(t.tickets.redeem(ticket) for _ in range(8)))
        assert results.count(ALICE) == 1
        assert results.count(None) == 7

    run(tickets, body)


def test_a_ticket_is_gone_once_its_lifetime_has_passed(tickets: Factory) -> None:
    async def body(t: TicketsUnderTest) -> None:
        ticket = await t.tickets.issue(ALICE, 1)
        await t.elapse(1.2)
        assert await t.tickets.peek(ticket) is None
        assert await t.tickets.redeem(ticket) is None

    run(tickets, body)


def test_every_call_raises_store_unavailable_when_redis_cannot_answer(tickets: Factory) -> None:
    async def body(t: TicketsUnderTest) -> None:
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: t.broken.issue(ALICE, 30),
            lambda: t.broken.peek("t" * 43),
            lambda: t.broken.redeem("t" * 43),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call()

    run(tickets, body)
