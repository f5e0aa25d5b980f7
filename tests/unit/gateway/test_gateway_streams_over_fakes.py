"""A connection over fakes: retry, history, resume or reset, live delivery, isolation, beats."""

from __future__ import annotations

import asyncio

import pytest

from application.gateway.outbox import Heartbeat
from tests.gateway_over_fakes import FRESH, FakeGateway, Served, settle

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


def test_a_stream_sends_retry_first_then_each_new_entry_live() -> None:
    gw = FakeGateway(retry_ms=1234)

    async def scenario() -> None:
        async with gw.running():
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH))
            await settle()
            ids = gw.publish("u1", 3)
            assert await served.until(3) == ids
            assert served.client.retry is not None
            assert served.client.retry.ms == 1234
            served.conn.close("client")
            await served.ended()
        assert gw.telemetry.sent_total == 3
        assert gw.telemetry.closed == {"client": 1}

    asyncio.run(scenario())


def test_history_sends_the_last_n_events_and_the_session_filter_keeps_one_session() -> None:
    gw = FakeGateway(replay_page=2)

    async def scenario() -> None:
        async with gw.running():
            a = gw.publish("u1", 4, session=b"a")
            b = gw.publish("u1", 3, session=b"b")
            p = gw.principal("u1")
            served = Served(await gw.service.open(p, last_event_id=None, history=5, session=None))
            assert await served.until(5) == a[2:] + b
            filtered = await gw.service.open(p, last_event_id=None, history=2, session="a")
            one = Served(filtered)
            assert await one.until(2) == a[2:]
            gw.publish("u1", 2, session=b"b")
            a2 = gw.publish("u1", 1, session=b"a")
            assert await one.until(3) == a[2:] + a2
            for s in (served, one):
                s.conn.close("client")
                await s.ended()

    asyncio.run(scenario())


def test_resume_replays_the_rest_in_pages_then_goes_live_without_gap_or_duplicate() -> None:
    gw = FakeGateway(replay_page=7)

    async def scenario() -> None:
        async with gw.running():
            ids = gw.publish("u1", 40)
            conn = await gw.service.open(
                gw.principal("u1"), last_event_id=ids[2], history=9, session=None
            )
            served = Served(conn)
            assert await served.until(37) == ids[3:]
            live = gw.publish("u1", 5)
            assert await served.until(42) == ids[3:] + live
            assert served.client.reset is None
            served.conn.close("client")
            await served.ended()

    asyncio.run(scenario())


def test_a_trimmed_malformed_expired_or_unknown_last_event_id_gets_a_reset_first() -> None:
    gw = FakeGateway(maxlen=10)

    async def reset_then(last_id: str, n: int) -> tuple[str, str | None, list[str]]:
        conn = await gw.service.open(
            gw.principal("u1"), last_event_id=last_id, history=0, session=None
        )
        served = Served(conn)
        events = await served.until(n)
        await settle()
        reset = served.client.reset
        assert reset is not None
        assert served.client.frames.index(reset) == 1  # right after retry, before any event
        served.conn.close("client")
        await served.ended()
        return reset.reason, reset.oldest, events

    async def scenario() -> None:
        async with gw.running():
            ids = gw.publish("u1", 25)
            held = ids[-10:]
            assert await reset_then(ids[0], 10) == ("trimmed", held[0], held)
            # The id right before the oldest held entry lost nothing: no reset.
            conn = await gw.service.open(
                gw.principal("u1"), last_event_id=ids[-11], history=0, session=None
            )
            served = Served(conn)
            assert await served.until(10) == held
            assert served.client.reset is None
            served.conn.close("client")
            await served.ended()
            assert await reset_then("not-an-id", 10) == ("malformed", None, held)
            largest = "18446744073709551615-18446744073709551615"
            assert await reset_then(largest, 10) == ("unknown_id", held[0], held)
            gw.streams.expire("u1")
            assert await reset_then(ids[-1], 0) == ("expired", None, [])

    asyncio.run(scenario())


def test_a_user_is_only_woken_and_sent_their_own_events() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            alice = Served(await gw.service.open(gw.principal("alice"), **FRESH))
            bob = Served(await gw.service.open(gw.principal("bob"), **FRESH))
            await settle()
            mine, theirs = gw.publish("alice", 2), gw.publish("bob", 3)
            assert await alice.until(2) == mine
            assert await bob.until(3) == theirs
            await settle()
            assert alice.client.events == mine
            for s in (alice, bob):
                s.conn.close("client")
                await s.ended()

    asyncio.run(scenario())


def test_a_tick_catches_up_a_connection_whose_notification_was_lost() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH))
            await settle()
            lost = [gw.streams.append("u1", "lost-1"), gw.streams.append("u1", "lost-2")]
            await settle()
            assert served.client.events == []  # no notification: nothing woke it
            await gw.service.tick()
            assert await served.until(2) == lost
            served.conn.close("client")
            await served.ended()

    asyncio.run(scenario())


def test_a_tick_beats_only_connections_that_were_sent_nothing_since_the_last_tick() -> None:
    gw = FakeGateway()

    def beats(served: Served) -> int:
        return sum(isinstance(f, Heartbeat) for f in served.client.frames)

    async def scenario() -> None:
        async with gw.running():
            idle = Served(await gw.service.open(gw.principal("u1"), **FRESH))
            busy = Served(await gw.service.open(gw.principal("u2"), **FRESH))
            await settle()
            await gw.service.tick()  # both were just sent their `retry:`
            await settle()
            assert (beats(idle), beats(busy)) == (0, 0)
            gw.publish("u2")
            await busy.until(1)
            await gw.service.tick()  # u2 got an event since: no keep-alive needed
            await settle()
            assert (beats(idle), beats(busy)) == (1, 0)
            await gw.service.tick()
            await settle()
            assert (beats(idle), beats(busy)) == (2, 1)
            for served in (idle, busy):
                served.conn.close("client")
                await served.ended()

    asyncio.run(scenario())


def test_after_a_resubscription_every_connection_reads_again() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH))
            await settle()
            gw.notifications.disconnect()
            written = gw.streams.append("u1", "while-down")  # its notification is lost
            await settle()
            assert gw.notifications.subscriptions == 2
            assert await served.until(1) == [written]
            served.conn.close("client")
            await served.ended()

    asyncio.run(scenario())
