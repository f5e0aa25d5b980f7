"""Token expiry and slow clients over fakes, with time moved by the fake clock, never waited for.

A stream ends at its credential's `exp` with a closing frame naming the last event really
written; a ticket never outlives its token; a client that leaves its buffer full is cut off.
"""

from __future__ import annotations

import asyncio

import pytest

from application.gateway.ports import AuthError
from tests.gateway_over_fakes import FRESH, Client, FakeGateway, Served, settle

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


def test_a_bearer_stream_closes_at_token_expiry_and_says_where_to_resume() -> None:
    gw = FakeGateway(heartbeat_s=10)

    async def scenario() -> None:
        async with gw.running():
            # The last frame says why, and carries the position: none on a stream with no event.
            served = Served(await gw.service.open(gw.principal("u1", ttl_s=1.5), **FRESH))
            await settle()
            gw.clock.advance(1.5)
            client = await served.ended()
            assert client.closing is not None
            assert (client.closing.reason, client.closing.position) == ("token_expired", None)
            assert client.events == []
            assert client.ended
            # With a position, the closing frame's id is it, even when nothing was sent since.
            ids = gw.publish("u1", 2)
            served = Served(await gw.service.open(gw.principal("u1", ttl_s=1.5), **FRESH))
            await settle()
            gw.clock.advance(1.5)
            client = await served.ended()
            assert client.closing is not None
            assert (client.closing.reason, client.closing.position) == ("token_expired", ids[-1])
            assert gw.telemetry.closed == {"token_expired": 2}

    asyncio.run(scenario())


def test_the_closing_frame_names_the_last_event_written_before_expiry() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            served = Served(await gw.service.open(gw.principal("u1", ttl_s=60), **FRESH))
            await settle()
            ids = gw.publish("u1", 3)
            assert await served.until(3) == ids
            gw.clock.advance(59.9)
            await settle()
            assert not served.task.done()
            gw.clock.advance(0.1)
            client = await served.ended()
            assert client.closing is not None
            assert client.closing.position == ids[-1]

    asyncio.run(scenario())


def test_events_queued_in_time_but_not_written_by_the_deadline_are_never_sent() -> None:
    gw = FakeGateway(slow_client_s=100)

    async def scenario() -> None:
        async with gw.running():
            client = Client()
            client.reading.clear()  # the client reads nothing yet: the writer waits on it
            served = Served(await gw.service.open(gw.principal("u1", ttl_s=5), **FRESH), client)
            await settle()
            gw.publish("u1", 3)
            await settle()
            assert len(served.conn.outbox) == 3  # queued in time
            gw.clock.advance(5)
            client.reading.set()
            await served.ended()
        assert client.events == []
        assert client.closing is not None
        assert (client.closing.reason, client.closing.position) == ("token_expired", None)
        assert gw.telemetry.sent_total == 0

    asyncio.run(scenario())


def test_a_ticket_never_outlives_its_token_and_its_stream_ends_with_the_token() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            short = gw.principal("u1", ttl_s=2)
            ticket, ttl = await gw.service.tickets.issue(short)
            assert ttl <= 2
            principal = await gw.service.tickets.peek(ticket)
            conn = await gw.service.open(principal, **FRESH, ticket=ticket)
            served = Served(conn)
            await settle()
            gw.clock.advance(2)
            client = await served.ended()
            assert client.closing is not None
            assert client.closing.reason == "token_expired"
            assert client.ended
            # A ticket whose token expired meanwhile opens nothing.
            later, _ = await gw.service.tickets.issue(gw.principal("u1", ttl_s=1))
            gw.clock.advance(1)
            with pytest.raises(AuthError) as caught:
                await gw.service.tickets.peek(later)
            assert caught.value.code in ("expired_token", "invalid_ticket")
            with pytest.raises(AuthError, match="expired"):
                await gw.service.tickets.issue(gw.principal("u1", ttl_s=0))
        assert gw.telemetry.closed["token_expired"] == 1

    asyncio.run(scenario())


def test_a_slow_reader_is_cut_off_and_then_resumes_without_loss() -> None:
    gw = FakeGateway(send_buffer=4, slow_client_s=0.5)

    async def scenario() -> None:
        async with gw.running():
            client = Client()
            client.reading.clear()
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH), client)
            await settle()
            ids = gw.publish("u1", 40)
            await settle()
            assert not served.task.done()  # the buffer is full; the clock has not moved
            gw.clock.advance(0.5)
            await served.ended()
            assert gw.telemetry.closed["slow_client"] == 1
            assert client.closing is None  # cut, not ended: the client sees the stream break
            assert not client.ended
            assert gw.leases.leases["u1"] == {}
            client.reading.set()
            resumed = await gw.service.open(
                gw.principal("u1"), last_event_id=ids[0], history=0, session=None
            )
            again = Served(resumed)
            assert await again.until(39) == ids[1:]

    asyncio.run(scenario())
