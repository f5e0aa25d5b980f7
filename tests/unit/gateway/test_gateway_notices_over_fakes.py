"""Notifications over fakes: a direct write at the cursor, a read for anything else, the counts."""

from __future__ import annotations

import asyncio

import pytest

from application.fakes import FakeStreamReader
from domain.gateway.entries import Entry
from domain.gateway.notices import NOTICE_MAX_ENTRIES, Notice, NoticeKind
from tests.gateway_over_fakes import FRESH, FakeGateway, Served, settle

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


class CountingReader(FakeStreamReader):
    """The fake streams, counting the reads after a cursor (what a direct write saves), and
    optionally holding the next `newest` (a connection's start) until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def read_after(self, user: str, cursor: str, count: int) -> list[Entry]:
        self.reads += 1
        return await super().read_after(user, cursor, count)

    async def newest(self, user: str, count: int, *, before: str | None = None) -> list[Entry]:
        if self.gate is not None:
            await self.gate.wait()
        return await super().newest(user, count, before=before)


def kinds(gw: FakeGateway) -> dict[str, int]:
    return {k: n for k, n in gw.telemetry.notices.items() if n}


async def opened(gw: FakeGateway, user: str = "u1", **options: object) -> Served:
    served = Served(await gw.service.open(gw.principal(user), **{**FRESH, **options}))
    await settle()
    return served


async def closed(*served: Served) -> None:
    for s in served:
        s.conn.close("client")
        await s.ended()


def test_a_notification_at_the_connections_cursor_is_written_as_it_is_with_no_read() -> None:
    reader = CountingReader()
    gw = FakeGateway(streams=reader)

    async def scenario() -> None:
        async with gw.running():
            served = await opened(gw)
            first = gw.publish("u1", 2)
            assert await served.until(2) == first
            second = gw.publish("u1", 3)
            assert await served.until(5) == first + second
            assert reader.reads == 0
            assert kinds(gw) == {NoticeKind.DIRECT: 2}
            await closed(served)

    asyncio.run(scenario())


def test_a_notification_whose_previous_id_is_not_the_cursor_makes_the_connection_read() -> None:
    reader = CountingReader()
    gw = FakeGateway(streams=reader)

    async def scenario() -> None:
        async with gw.running():
            served = await opened(gw)
            written = [gw.streams.append("u1", "a"), gw.streams.append("u1", "b")]
            # A notification that does not continue from the connection's cursor, carrying
            # entries the stream does not hold: what is sent must be the stream's.
            bogus = Entry(b"9-9", b"T", b"s", b'{"not":"in the stream"}')
            gw.notifications.publish("u1", Notice(written[0], written[1], (bogus,)))
            assert await served.until(2) == written
            assert reader.reads >= 1
            assert kinds(gw) == {NoticeKind.READ: 1}
            assert bogus not in served.client.frames
            await closed(served)

    asyncio.run(scenario())


def test_a_dropped_notification_is_healed_by_the_next_with_no_gap_and_no_duplicate() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            served = await opened(gw)
            before = gw.publish("u1", 2)
            await served.until(2)
            dropped = [gw.streams.append("u1", f"dropped-{i}") for i in range(3)]  # no notice
            after = gw.publish("u1", 2)  # previous = the last dropped one: not the cursor
            assert await served.until(7) == before + dropped + after
            live = gw.publish("u1", 1)  # back at the cursor: direct again
            assert await served.until(8) == before + dropped + after + live
            assert kinds(gw) == {NoticeKind.DIRECT: 2, NoticeKind.READ: 1}
            await closed(served)

    asyncio.run(scenario())


def test_the_session_filter_applies_to_notified_entries_and_the_cursor_passes_the_others() -> None:
    reader = CountingReader()
    gw = FakeGateway(streams=reader)

    async def scenario() -> None:
        async with gw.running():
            served = await opened(gw, session="a")
            mine = gw.publish("u1", 1, session=b"a")
            gw.publish("u1", 2, session=b"b")
            more = gw.publish("u1", 1, session=b"a")
            assert await served.until(2) == mine + more
            assert reader.reads == 0  # every one of them continued from the cursor
            assert kinds(gw) == {NoticeKind.DIRECT: 3}
            await closed(served)

    asyncio.run(scenario())


def test_a_notification_without_its_entries_or_too_many_for_the_buffer_is_read() -> None:
    gw = FakeGateway(send_buffer=4, replay_page=2)

    async def scenario() -> None:
        async with gw.running():
            served = await opened(gw)
            big = gw.publish("u1", NOTICE_MAX_ENTRIES + 1)  # ids only
            wide = gw.publish("u1", 5)  # carried, but more than the buffer holds at once
            assert await served.until(len(big) + 5) == big + wide
            assert kinds(gw) == {NoticeKind.READ: 2}
            await closed(served)

    asyncio.run(scenario())


def test_a_notification_for_a_user_without_connections_here_is_counted_ignored() -> None:
    gw = FakeGateway()

    async def scenario() -> None:
        async with gw.running():
            served = await opened(gw)
            gw.publish("u1", 1)
            await served.until(1)
            # The fake, like Redis, delivers only followed users: this one was, and just left.
            gw.service.hub.notify("someone-else", gw.streams.notice("u1", 1))
            assert kinds(gw) == {NoticeKind.DIRECT: 1, NoticeKind.IGNORED: 1}
            await closed(served)

    asyncio.run(scenario())


def test_a_direct_write_is_exactly_what_a_read_delivers() -> None:
    reader = CountingReader()
    gw = FakeGateway(streams=reader)

    async def scenario() -> None:
        async with gw.running():
            start = gw.publish("u1", 1)
            live = await opened(gw)
            resumed = await opened(gw, last_event_id=start[0])  # also at the cursor: direct
            written = gw.publish("u1", 3)
            assert await live.until(3) == written
            assert await resumed.until(3) == written
            reads = reader.reads
            again = await opened(gw, last_event_id=start[0])  # replays them with a read
            assert await again.until(3) == written
            assert reader.reads == reads  # the start read them (resume_facts), not read_after
            events = [[f for f in s.client.frames if isinstance(f, Entry)] for s in (live, again)]
            assert events[0] == events[1]
            await closed(live, resumed, again)

    asyncio.run(scenario())


def test_a_notification_during_a_connections_start_is_sent_once_and_after_retry() -> None:
    reader = CountingReader()
    gw = FakeGateway(streams=reader)

    async def scenario() -> None:
        async with gw.running():
            reader.gate = asyncio.Event()
            opening = asyncio.create_task(
                gw.service.open(gw.principal("u1"), **{**FRESH, "history": 5})
            )
            await settle()  # registered, subscribed, its start read waiting at the gate
            written = gw.publish("u1", 1)  # a new stream: previous 0-0, the connection's start
            await settle()
            reader.gate.set()
            served = Served(await opening)
            assert await served.until(1) == written
            await settle()
            assert served.client.events == written  # once: by its start, not also directly
            assert served.client.retry is not None
            await closed(served)

    asyncio.run(scenario())
