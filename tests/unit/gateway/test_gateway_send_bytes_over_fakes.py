"""A connection's buffer is bounded in bytes, and so is the process's: a client that stops reading
while large events arrive holds at most its bound, is cut off as slow, and loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from application.fakes import FakeStreamReader
from application.gateway.frames import ENTRY_OVERHEAD, FRAME_BYTES
from tests.gateway_over_fakes import FRESH, Client, FakeGateway, Served, settle

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

EVENT = 3000  # bytes of data per event: a dozen of them fill a 40 kB buffer


class CountingReader(FakeStreamReader):
    """The fake streams, recording how many entries each read asked for."""

    def __init__(self) -> None:
        super().__init__(maxlen=10_000)
        self.asked: list[int] = []

    async def read_after(self, user: str, cursor: str, count: int) -> list:  # type: ignore[type-arg]
        self.asked.append(count)
        return await super().read_after(user, cursor, count)


def publish_large(gw: FakeGateway, user: str, n: int, *, per_write: int = 1) -> list[str]:
    """`n` events of EVENT bytes for `user`, `per_write` per bridge write (one notification)."""
    ids: list[str] = []
    for at in range(0, n, per_write):
        count = min(per_write, n - at)
        for k in range(count):
            data = b'{"n":%d,"x":"%s"}' % (at + k, b"x" * EVENT)
            ids.append(gw.streams.append(user, f"{user}-{at + k}", session=b"s", data=data))
        gw.notifications.publish(user, gw.streams.notice(user, count))
    return ids


def test_a_client_that_stops_reading_holds_at_most_its_bytes_is_cut_and_resumes_without_loss() -> (
    None
):
    reader = CountingReader()
    gw = FakeGateway(
        streams=reader, send_buffer=10_000, send_buffer_bytes=40_000, slow_client_s=0.5
    )
    counts = gw.service.counts

    async def scenario() -> None:
        async with gw.running():
            client = Client()
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH), client)
            await settle()
            client.reading.clear()  # the client stops reading: its writes block
            ids: list[str] = []
            for _ in range(20):
                ids += publish_large(gw, "u1", 10)  # direct notifications, one event each
                ids += publish_large(gw, "u1", 10, per_write=10)  # larger than it can carry
                await settle()
                # Never a message-count bound here (10,000): the bytes hold it.
                assert counts.buffered_bytes <= 40_000
            assert not served.task.done()  # full, but the clock has not moved
            # It reads in pages sized to its room, by the largest event it has queued.
            assert len(reader.asked) > 1
            assert max(reader.asked[1:]) <= 40_000 // EVENT
            gw.clock.advance(0.5)
            await served.ended()
            assert gw.telemetry.closed["slow_client"] == 1
            assert counts.cuts == {"messages": 0, "bytes": 1, "process_bytes": 0}
            assert counts.buffered_bytes == 0  # what it held is given back
            client.reading.set()
            written = client.events  # none: its first write never returned
            assert written == ids[: len(written)]
            resumed = await gw.service.open(
                gw.principal("u1"),
                last_event_id=written[-1] if written else "0-0",
                history=0,
                session=None,
            )
            again = Served(resumed)
            assert written + await again.until(len(ids) - len(written)) == ids

    asyncio.run(scenario())


def test_past_the_process_bound_a_connection_behind_waits_and_one_keeping_up_does_not() -> None:
    size = EVENT + 20 + ENTRY_OVERHEAD  # about one event's bytes in a buffer
    gw = FakeGateway(
        send_buffer=10_000,
        send_buffer_bytes=1_000_000,
        send_buffer_total_bytes=5 * size,
        slow_client_s=0.5,
    )
    counts = gw.service.counts

    async def scenario() -> None:
        async with gw.running():
            slow, quick = Client(), Client()
            stalled = Served(await gw.service.open(gw.principal("slow"), **FRESH), slow)
            keeping_up = Served(await gw.service.open(gw.principal("quick"), **FRESH), quick)
            await settle()
            slow.reading.clear()
            publish_large(gw, "slow", 30)
            await settle()
            assert counts.buffered_bytes <= 6 * size  # the bound, and the batch it blocks on
            quick_ids = publish_large(gw, "quick", 30)
            assert await keeping_up.until(30) == quick_ids  # never starved by the slow one
            gw.clock.advance(0.5)
            await stalled.ended()
            assert counts.cuts["process_bytes"] == 1
            assert gw.telemetry.closed["slow_client"] == 1
            assert not keeping_up.task.done()

    asyncio.run(scenario())


def test_a_heartbeat_is_not_queued_into_a_buffer_full_of_bytes() -> None:
    gw = FakeGateway(send_buffer=10_000, send_buffer_bytes=9_300, slow_client_s=100)

    async def scenario() -> None:
        async with gw.running():
            client = Client()
            served = Served(await gw.service.open(gw.principal("u1"), **FRESH), client)
            await settle()
            client.reading.clear()
            publish_large(gw, "u1", 10)
            await settle()
            held = served.conn.outbox.held
            assert held + FRAME_BYTES > 9_300  # no room for one frame more
            queued = served.conn.outbox.queued
            await gw.service.tick()
            await gw.service.tick()
            assert served.conn.outbox.queued == queued  # no heartbeat: data is due
            assert served.conn.outbox.held == held
            served.conn.close("client")
            client.reading.set()
            await served.ended()

    asyncio.run(scenario())
