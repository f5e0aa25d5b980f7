"""Leases and tickets over fakes: the limit, nothing left behind, single use, drain, readiness."""

from __future__ import annotations

import asyncio

import pytest

from application.gateway.ports import AuthError, LeaseRefused
from application.ports import StoreUnavailable
from tests.gateway_over_fakes import FRESH, FakeGateway, Served, settle

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


def test_the_limit_refuses_with_a_retry_after_and_closing_a_stream_gives_its_lease_back() -> None:
    gw = FakeGateway(limit=2, lease_s=30)

    async def scenario() -> None:
        async with gw.running():
            p = gw.principal("u1")
            first = Served(await gw.service.open(p, **FRESH))
            Served(await gw.service.open(p, **FRESH))
            with pytest.raises(LeaseRefused) as refused:
                await gw.service.open(p, **FRESH)
            assert 1 <= refused.value.retry_after_s <= 30
            await gw.service.open(gw.principal("u2"), **FRESH)  # others are not affected
            first.conn.close("client")
            await first.ended()
            Served(await gw.service.open(p, **FRESH))  # its lease was given back

    asyncio.run(scenario())


def test_a_start_that_fails_leaves_no_lease_and_no_registration_behind() -> None:
    gw = FakeGateway(limit=1)

    async def scenario() -> None:
        gw.streams.available = False
        with pytest.raises(StoreUnavailable):
            await gw.service.open(gw.principal("u1"), **FRESH)
        assert len(gw.service.hub) == 0
        assert gw.leases.leases["u1"] == {}
        gw.streams.available = True
        await gw.service.open(gw.principal("u1"), **FRESH)

    asyncio.run(scenario())


def test_a_ticket_opens_one_stream_once_and_a_refused_open_keeps_it() -> None:
    gw = FakeGateway(limit=1)

    async def scenario() -> None:
        p = gw.principal("u1")
        ticket, ttl = await gw.service.tickets.issue(p)
        assert ttl == 30
        assert await gw.service.tickets.peek(ticket) == p  # peeking does not use it
        holder = await gw.service.open(p, **FRESH)
        with pytest.raises(LeaseRefused):
            await gw.service.open(p, **FRESH, ticket=ticket)
        holder.close("client")
        served = Served(holder)
        await served.ended()
        await gw.service.open(p, **FRESH, ticket=ticket)
        with pytest.raises(AuthError) as used:
            await gw.service.tickets.peek(ticket)
        assert used.value.code == "invalid_ticket"

    asyncio.run(scenario())


def test_opens_racing_for_one_ticket_open_exactly_one_stream_and_leak_no_lease() -> None:
    gw = FakeGateway(limit=10)

    async def scenario() -> None:
        p = gw.principal("u1")
        ticket, _ = await gw.service.tickets.issue(p)
        peeked = [await gw.service.tickets.peek(ticket) for _ in range(4)]  # all before any redeem
        results = await asyncio.gather(
            *(gw.service.open(q, **FRESH, ticket=ticket) for q in peeked), return_exceptions=True
        )
        opened = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, AuthError)]
        assert (len(opened), len(refused)) == (1, 3)
        assert {r.code for r in refused} == {"invalid_ticket"}
        assert list(gw.leases.leases["u1"]) == [opened[0].conn_id]

    asyncio.run(scenario())


def test_a_malformed_or_unknown_ticket_is_refused_and_a_user_at_the_limit_gets_no_ticket() -> None:
    gw = FakeGateway(limit=1)

    async def scenario() -> None:
        for ticket, message in (("short", "malformed"), ("t" * 43, "unknown")):
            with pytest.raises(AuthError, match=message) as caught:
                await gw.service.tickets.peek(ticket)
            assert caught.value.code == "invalid_ticket"
        await gw.service.open(gw.principal("u1"), **FRESH)
        with pytest.raises(LeaseRefused):
            await gw.service.tickets.issue(gw.principal("u1"))

    asyncio.run(scenario())


def test_renewal_keeps_live_leases_and_a_dead_gateways_lease_heals_after_its_lifetime() -> None:
    gw = FakeGateway(limit=1, lease_s=30)
    other = FakeGateway(limit=1, lease_s=30)  # a second gateway sharing the same leases
    other.leases = gw.leases

    async def scenario() -> None:
        p = gw.principal("u1")
        await gw.service.open(p, **FRESH)
        gw.clock.advance(20)
        await gw.service.renew()
        gw.clock.advance(20)  # 40 s after opening: alive only because it was renewed
        with pytest.raises(LeaseRefused):
            await gw.leases.check("u1", now=gw.clock.unix())
        # The gateway dies: nothing renews; after the lease's lifetime the user may connect.
        gw.clock.advance(31)
        await gw.leases.acquire("u1", "elsewhere", now=gw.clock.unix())

    asyncio.run(scenario())


def test_drain_ends_every_stream_with_a_closing_frame_and_releases_the_leases_at_once() -> None:
    gw = FakeGateway(drain_s=2)

    async def scenario() -> None:
        async with gw.running():
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH))
            await settle()
            ids = gw.publish("u1", 1)
            await served.until(1)
            await gw.service.drain()
            client = await served.ended()
            assert client.closing is not None
            assert (client.closing.reason, client.closing.position) == ("shutdown", ids[-1])
            assert client.ended
            assert gw.leases.leases["u1"] == {}
            assert gw.telemetry.closed == {"shutdown": 1}
            readiness = await gw.service.readiness()
            assert readiness.draining
            assert not readiness.ready

    asyncio.run(scenario())


def test_readiness_needs_redis_the_subscription_and_every_loop() -> None:
    gw = FakeGateway(heartbeat_s=3600)

    async def scenario() -> None:
        assert not (await gw.service.readiness()).ready  # nothing runs yet
        task = asyncio.create_task(gw.service.run())
        await settle()
        ready = await gw.service.readiness()
        assert ready.ready, ready
        assert ready.tasks == {"subscription": True, "tick": True, "lease_renewal": True}
        assert ready.redis_error is None
        gw.streams.available = False
        down = await gw.service.readiness()
        assert not down.redis
        assert down.redis_error == "fake Redis is down"  # why, for /readyz to say
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert gw.service.liveness() is None

    asyncio.run(scenario())
