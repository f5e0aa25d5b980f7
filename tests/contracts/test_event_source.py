"""One contract for EventSource, run against the fake and the real Kafka adapter alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from application.ports import SourceUnavailable
from domain.model import Partition
from tests.contracts.source_harness import (
    SourceFactory,
    SourceHarness,
    fetch_until,
    joined,
    sources,
)

__all__ = ["sources"]  # the fixture, parametrised over the fake and the real adapter

pytestmark = pytest.mark.timeout(120)


def run(
    sources: SourceFactory, body: Callable[[SourceHarness], Awaitable[None]], **kw: Any
) -> None:
    async def scenario() -> None:
        async with sources(**kw) as harness:
            await body(harness)

    asyncio.run(asyncio.wait_for(scenario(), 100))


def test_joining_the_group_runs_the_assigned_callback_inside_fetch(sources: SourceFactory) -> None:
    async def body(h: SourceHarness) -> None:
        assigned: list[frozenset[Partition]] = []

        async def on_assigned(partitions: frozenset[Partition]) -> None:
            assigned.append(partitions)

        async def on_revoked(partitions: frozenset[Partition]) -> None:
            return None

        h.source.on_rebalance(revoked=on_revoked, assigned=on_assigned)
        await joined(h)
        assert assigned == [frozenset(h.partitions)]

    run(sources, body)


def test_records_come_as_the_bytes_written_in_offset_order_per_partition(
    sources: SourceFactory,
) -> None:
    async def body(h: SourceHarness) -> None:
        await joined(h)
        await h.append(0, b"k", b"\xff\xfe not utf-8", (("correlation_id", b"None"),))
        await h.append(1, None, b"{}")
        await h.append(0, b"tombstone", None)
        await h.append(0, b"k", b"[]", (("a", b"1"), ("a", b"2")))
        got = await fetch_until(h.source, 4)
        by_partition = {p: [r for r in got if r.partition == p] for p in h.partitions}
        first = by_partition[h.partitions[0]]
        assert [r.offset for r in first] == [0, 1, 2]
        assert [(r.key, r.value) for r in first] == [
            (b"k", b"\xff\xfe not utf-8"),
            (b"tombstone", None),
            (b"k", b"[]"),
        ]
        assert first[0].header("correlation_id") == "None"
        assert first[2].headers == (("a", b"1"), ("a", b"2"))
        assert first[2].header("a") == "2"  # the last of a name
        assert [(r.key, r.value) for r in by_partition[h.partitions[1]]] == [(None, b"{}")]
        assert all(r.timestamp_ms > 0 for r in got)  # the record's CreateTime

    run(sources, body)


def test_a_fetch_returns_at_most_max_records_and_nothing_once_everything_is_fetched(
    sources: SourceFactory,
) -> None:
    async def body(h: SourceHarness) -> None:
        await joined(h)
        for i in range(5):
            await h.append(0, b"k", b"%d" % i)
        got: list[Any] = []
        while len(got) < 5:
            batch = await h.source.fetch(timeout_s=0.5, max_records=2)
            assert len(batch) <= 2
            got += batch
        assert [r.value for r in got] == [b"0", b"1", b"2", b"3", b"4"]
        assert await h.source.fetch(timeout_s=0.2, max_records=2) == []

    run(sources, body, partitions=1)


def test_lag_is_what_a_fetched_partition_holds_past_the_next_record(
    sources: SourceFactory,
) -> None:
    async def body(h: SourceHarness) -> None:
        await joined(h)
        for i in range(3):
            await h.append(0, b"k", b"%d" % i)
        got = await fetch_until(h.source, 3)
        assert len(got) == 3
        assert h.source.lag() == {h.partitions[0]: 0}

    run(sources, body, partitions=1)


def test_a_committed_offset_is_where_the_member_starts_after_a_restart(
    sources: SourceFactory,
) -> None:
    async def body(h: SourceHarness) -> None:
        await joined(h)
        p = h.partitions[0]
        for value in (b"a", b"b", b"c"):
            await h.append(0, b"k", value)
        assert len(await fetch_until(h.source, 3)) == 3
        await h.source.commit({p: 2})  # a and b finished, c not
        await h.source.commit({p: 2})  # idempotent
        await h.restart()
        assert [r.value for r in await fetch_until(h.source, 1)] == [b"c"]

    run(sources, body, partitions=1)


def test_a_paused_partition_yields_nothing_until_resumed(sources: SourceFactory) -> None:
    async def body(h: SourceHarness) -> None:
        await joined(h)
        p, q = h.partitions
        h.source.pause([p])
        assert h.source.paused() == {p}
        await h.append(0, b"k", b"held")
        await h.append(1, b"k", b"free")
        assert [r.value for r in await fetch_until(h.source, 1)] == [b"free"]
        assert await h.source.fetch(timeout_s=0.5, max_records=10) == []
        h.source.resume([p])
        assert h.source.paused() == frozenset()
        assert [r.value for r in await fetch_until(h.source, 1)] == [b"held"]
        assert q in h.source.assignment()

    run(sources, body)


def test_committing_a_partition_it_never_held_raises_source_unavailable(
    sources: SourceFactory,
) -> None:
    async def body(h: SourceHarness) -> None:
        await joined(h)
        with pytest.raises(SourceUnavailable) as caught:
            await h.source.commit({Partition("some-other-topic", 0): 1})
        assert not caught.value.retriable

    run(sources, body)


def test_a_member_joining_takes_partitions_away_through_the_revoke_callback(
    sources: SourceFactory,
) -> None:
    async def body(h: SourceHarness) -> None:
        revoked: list[frozenset[Partition]] = []
        held_while_revoking: list[frozenset[Partition]] = []

        async def on_revoked(partitions: frozenset[Partition]) -> None:
            revoked.append(partitions)
            held_while_revoking.append(h.source.assignment())

        async def on_assigned(partitions: frozenset[Partition]) -> None:
            return None

        h.source.on_rebalance(revoked=on_revoked, assigned=on_assigned)
        await joined(h)
        taken = await h.another_member_joins()
        assert taken
        assert h.source.assignment() == frozenset(h.partitions) - taken
        assert any(taken <= gone for gone in revoked)
        # The callback runs while the partitions are still ours: what is done can be committed.
        assert all(gone <= held for gone, held in zip(revoked, held_while_revoking, strict=True))
        with pytest.raises(SourceUnavailable):
            await h.source.commit({next(iter(taken)): 0})

    run(sources, body, partitions=2)
