"""One contract for DeadLetters, run against the fake and the real Kafka adapter alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from application.ports import DeadLetter, DeadLetterUnavailable
from domain.model import Partition, Record
from tests.contracts.letters_harness import LettersFactory, LettersHarness, dead_letter_topics

__all__ = ["dead_letter_topics"]  # the fixture, parametrised over the fake and the real adapter

pytestmark = pytest.mark.timeout(120)

SOURCE = Partition("genesis.domain.events", 3)


def dead(
    offset: int, key: bytes | None, value: bytes | None, *headers: tuple[str, bytes]
) -> DeadLetter:
    record = Record(SOURCE, offset, key, value, tuple(headers))
    return DeadLetter(record, "invalid_json", f"record {offset} is not JSON")


def run(
    topics: LettersFactory, body: Callable[[LettersHarness], Awaitable[None]], **kw: Any
) -> None:
    async def scenario() -> None:
        async with topics(**kw) as harness:
            await body(harness)

    asyncio.run(asyncio.wait_for(scenario(), 100))


def test_each_letter_keeps_the_record_as_it_was_and_says_why_and_where_it_came_from(
    dead_letter_topics: LettersFactory,
) -> None:
    async def body(h: LettersHarness) -> None:
        letters = [
            dead(7, b"session", b"{not json", ("correlation_id", b"c-1"), ("x", b"\xff")),
            dead(8, None, b"\x00\x01"),
            dead(9, None, None),  # neither key nor value: still a letter
        ]
        await h.dead_letters.send(letters)
        written = await h.written()
        assert [(w.offset, w.code, w.message) for w in written] == [
            (7, "invalid_json", "record 7 is not JSON"),
            (8, "invalid_json", "record 8 is not JSON"),
            (9, "invalid_json", "record 9 is not JSON"),
        ]
        assert all(w.partition == SOURCE for w in written)
        assert [(w.key, w.value, w.headers) for w in written] == [
            (b"session", b"{not json", (("correlation_id", b"c-1"), ("x", b"\xff"))),
            (None, b"\x00\x01", ()),
            (None, None, ()),
        ]
        assert not any(w.truncated for w in written)

    run(dead_letter_topics, body)


def test_a_letter_over_the_topics_limit_is_cut_to_fit_and_says_so(
    dead_letter_topics: LettersFactory,
) -> None:
    limit = 20_000
    big = b"{" + b"x" * 50_000

    async def body(h: LettersHarness) -> None:
        await h.dead_letters.send([dead(1, b"k", big, ("h", b"v")), dead(2, b"k", b"{small")])
        cut, small = await h.written()
        assert cut.truncated
        assert cut.key == b"k"
        assert cut.value is not None
        assert big.startswith(cut.value)
        assert 0 < len(cut.value) < limit
        assert (cut.offset, cut.code) == (1, "invalid_json")
        assert not small.truncated
        assert small.value == b"{small"

    run(dead_letter_topics, body, limit=limit)


def test_a_topic_that_takes_no_letter_at_all_raises_dead_letter_unavailable(
    dead_letter_topics: LettersFactory,
) -> None:
    async def body(h: LettersHarness) -> None:
        with pytest.raises(DeadLetterUnavailable):
            await h.dead_letters.send([dead(1, b"k", b"{")])
        await h.dead_letters.send([])  # nothing to send: nothing can fail

    run(dead_letter_topics, body, refusing=True)
