"""StreamReader: one contract, run against FakeStreamReader and RedisStreamReader alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from application.gateway import start as starts
from application.ports import StoreUnavailable
from domain.gateway.resume import ResetReason
from domain.gateway.stream_ids import parse_id
from tests.contracts.gateway_ports import Factory, Streams, streams_factory

pytestmark = pytest.mark.timeout(60)
LARGEST = "18446744073709551615-18446744073709551615"


@pytest.fixture(params=["fake", "real", "real-cluster"])
def streams(request: pytest.FixtureRequest) -> Factory:
    return streams_factory(request, maxlen=1000, window=10_000)


@pytest.fixture(params=["fake", "real", "real-cluster"])
def trimmed_streams(request: pytest.FixtureRequest) -> Factory:
    """Streams that keep about 10 entries, with a dedup window of 5000."""
    return streams_factory(request, maxlen=10, window=5000)


@pytest.fixture(params=["fake", "real", "real-cluster"])
def short_window_streams(request: pytest.FixtureRequest) -> Factory:
    """Streams that keep about 10 entries and remember only the newest 5 event ids."""
    return streams_factory(request, maxlen=10, window=5)


def run(factory: Factory, body: Callable[[Streams], Awaitable[None]]) -> None:
    async def scenario() -> None:
        async with factory() as s:
            await body(s)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def _ids(entries: list[Any]) -> list[str]:
    return [e.id.decode() for e in entries]


def test_read_after_gives_the_entries_after_a_cursor_oldest_first_up_to_count(
    streams: Factory,
) -> None:
    async def body(s: Streams) -> None:
        ids = await s.write("u1", 5, b"s1")
        assert sorted(ids, key=parse_id) == ids  # ids only grow
        assert _ids(await s.reader.read_after("u1", ids[1], 2)) == ids[2:4]
        assert _ids(await s.reader.read_after("u1", "0-0", 100)) == ids
        assert await s.reader.read_after("u1", ids[-1], 10) == []
        assert await s.reader.read_after("u1", LARGEST, 10) == []
        assert await s.reader.read_after("nobody", "0-0", 10) == []

    run(streams, body)


def test_entries_carry_their_type_session_and_data_as_bytes_verbatim(streams: Factory) -> None:
    async def body(s: Streams) -> None:
        await s.write("u1", 2, b"the-session")
        first, second = await s.reader.read_after("u1", "0-0", 10)
        assert (first.event, first.session, first.data) == (b"T", b"the-session", b'{"n":0}')
        assert second.data == b'{"n":1}'

    run(streams, body)


def test_newest_gives_the_newest_entries_first_strictly_before_an_id(streams: Factory) -> None:
    async def body(s: Streams) -> None:
        ids = await s.write("u1", 6, b"s")
        assert _ids(await s.reader.newest("u1", 3)) == ids[::-1][:3]
        assert _ids(await s.reader.newest("u1", 2, before=ids[3])) == [ids[2], ids[1]]
        assert await s.reader.newest("u1", 5, before=ids[0]) == []
        assert await s.reader.newest("nobody", 5) == []

    run(streams, body)


def test_last_ids_name_each_users_newest_entry_and_none_without_one(streams: Factory) -> None:
    async def body(s: Streams) -> None:
        a, b = await s.write("a", 3, b"s"), await s.write("b", 1, b"s")
        newest = await s.reader.last_ids(["a", "b", "nobody"])
        assert newest == {"a": parse_id(a[-1]), "b": parse_id(b[-1]), "nobody": None}
        assert await s.reader.last_ids([]) == {}

    run(streams, body)


def test_resume_facts_of_a_held_stream_and_of_one_that_is_gone(streams: Factory) -> None:
    async def body(s: Streams) -> None:
        ids = await s.write("u1", 4, b"s")
        last = parse_id(ids[1])
        assert last is not None
        page, facts = await s.reader.resume_facts("u1", last, 10)
        assert _ids(page) == ids[2:]
        assert facts.exists
        assert facts.last_generated == parse_id(ids[-1])
        assert facts.first == parse_id(ids[0])
        assert await s.reader.resume_facts("u1", parse_id(LARGEST) or (0, 0), 10) == ([], facts)
        await s.expire("u1")
        page, facts = await s.reader.resume_facts("u1", last, 10)
        assert (page, facts.exists) == ([], False)

    run(streams, body)


def test_a_resume_continues_without_gap_or_resets_with_the_reason_the_facts_give(
    trimmed_streams: Factory,
) -> None:
    async def body(s: Streams) -> None:
        ids = await s.write("u1", 250, b"s")
        held = _ids(await s.reader.newest("u1", 1000))[::-1]
        assert 10 <= len(held) < 250
        assert held == ids[-len(held) :]
        before_oldest = ids[ids.index(held[0]) - 1]
        whole = await starts.resume(s.reader, "u1", before_oldest, 1000)
        assert (whole.reset, _ids(whole.entries)) == (None, held)
        trimmed = await starts.resume(s.reader, "u1", ids[0], 1000)
        assert (trimmed.reset, trimmed.oldest) == (ResetReason.TRIMMED, held[0])
        unknown = await starts.resume(s.reader, "u1", LARGEST, 1000)
        assert unknown.reset is ResetReason.UNKNOWN_ID
        await s.expire("u1")
        gone = await starts.resume(s.reader, "u1", ids[-1], 1000)
        assert (gone.reset, gone.oldest) == (ResetReason.EXPIRED, None)

    run(trimmed_streams, body)


def test_once_the_dedup_window_no_longer_reaches_back_a_resume_before_the_oldest_resets(
    short_window_streams: Factory,
) -> None:
    async def body(s: Streams) -> None:
        ids = await s.write("u1", 250, b"s")
        held = _ids(await s.reader.newest("u1", 1000))[::-1]
        before_oldest = ids[ids.index(held[0]) - 1]
        start = await starts.resume(s.reader, "u1", before_oldest, 1000)
        assert start.reset is ResetReason.TRIMMED

    run(short_window_streams, body)


def test_every_read_raises_store_unavailable_when_redis_cannot_answer(streams: Factory) -> None:
    async def body(s: Streams) -> None:
        async with s.down() as reader:
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: reader.read_after("u1", "0-0", 10),
                lambda: reader.newest("u1", 10),
                lambda: reader.resume_facts("u1", (1, 0), 10),
                lambda: reader.window_facts("u1", (1, 0), (2, 0)),
                lambda: reader.last_ids(["u1"]),
                reader.ping,
            ]
            for call in calls:
                with pytest.raises(StoreUnavailable):
                    await call()
        await s.reader.ping()

    run(streams, body)
