"""One contract for StreamStore, run against the fake and the real Redis adapter alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from application.ports import StoreUnavailable
from tests.contracts.store_harness import StoreFactory, StoreHarness, message, stores

__all__ = ["stores"]  # the fixture, parametrised over the fake and the real adapter

pytestmark = pytest.mark.timeout(60)


def run(stores: StoreFactory, body: Callable[[StoreHarness], Awaitable[None]], **kw: Any) -> None:
    async def scenario() -> None:
        async with stores(**kw) as harness:
            await body(harness)

    asyncio.run(asyncio.wait_for(scenario(), 45))


def test_publish_returns_one_new_entry_id_per_message_in_order(stores: StoreFactory) -> None:
    async def body(h: StoreHarness) -> None:
        batch = [message("1", "s1"), message("2", "s2"), message("1", "s1")]
        results = await h.store.publish(batch)
        assert [r.event_id for r in results] == [m.event_id for m in batch]
        assert not any(r.duplicate for r in results)
        assert all(r.stream_id for r in results)
        assert results[0].stream_id < results[2].stream_id  # one user's entries, in order

    run(stores, body)


def test_publishing_the_same_event_again_is_a_duplicate_and_appends_nothing(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        first = message("7", "s")
        await h.store.publish([first])
        again = await h.store.publish([first, message("7", "s", event_id=first.event_id)])
        assert [r.duplicate for r in again] == [True, True]
        assert [r.stream_id for r in again] == ["", ""]

    run(stores, body)


def test_a_producer_duplicate_inside_one_batch_is_written_once_and_keeps_its_entry_id(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        first = message("7", "s")
        copy = message("7", "s", event_id=first.event_id)
        results = await h.store.publish([first, message("8", "s2"), copy])
        assert [r.duplicate for r in results] == [False, False, True]
        assert results[0].stream_id
        assert results[1].stream_id
        assert results[2].stream_id == ""
        again = await h.store.publish([message("7", "s")])
        assert again[0].stream_id > results[0].stream_id

    run(stores, body)


def test_the_first_owner_of_a_session_wins(stores: StoreFactory) -> None:
    async def body(h: StoreHarness) -> None:
        await h.store.publish([message("1", "shared")])
        await h.store.publish([message("2", "shared")])
        await h.store.publish([message("3", "quiet", teaches=False)])
        assert await h.store.owners(["shared", "quiet", "unknown"]) == {"shared": "1"}

    run(stores, body)


def test_a_publish_answers_the_owner_the_index_holds_for_each_teaching_message(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        first = await h.store.publish([message("1", "s"), message("2", "s")])
        assert [r.owner for r in first] == ["1", "1"]  # the first in the batch wins
        later = await h.store.publish([message("3", "s"), message("3", "t", teaches=False)])
        assert [r.owner for r in later] == ["1", None]

    run(stores, body)


def test_a_claim_sets_a_free_session_atomically_and_answers_the_owner_before(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        await h.store.publish([message("1", "taken")])
        before = await h.store.owners(["asked", "taken"], {"free": "2", "taken": "3"})
        assert before == {"taken": "1"}  # "free" had none: now it is 2's; "taken" stays 1's
        assert await h.store.owners(["free", "taken", "asked"]) == {"free": "2", "taken": "1"}
        [result] = await h.store.publish([message("4", "free")])
        assert result.owner == "2"

    run(stores, body)


def test_a_redelivery_older_than_the_dedup_window_is_appended_again(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        old = message("5", "s")
        await h.store.publish([old])
        await h.store.publish([message("5", "s") for _ in range(49)])
        [still] = await h.store.publish([old])
        assert still.duplicate  # 50 ids remembered: the oldest is still one of them
        await h.store.publish([message("5", "s")])
        [again] = await h.store.publish([old])
        assert not again.duplicate  # 51 newer ids: it left the window and is appended again
        assert again.stream_id

    run(stores, body)


def test_the_window_is_trimmed_after_each_call_so_a_copy_in_the_same_call_is_still_caught(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        first = message("5", "s")
        batch = [
            first,
            *(message("5", "s") for _ in range(60)),
            message("5", "s", event_id=first.event_id),
        ]
        results = await h.store.publish(batch)
        assert results[-1].duplicate  # 61 new ids in one call: none trimmed before its end
        assert await h.dedup_ids("5") == 50  # then the window holds the newest 50
        [again] = await h.store.publish([first])
        assert not again.duplicate

    run(stores, body)


def test_the_stream_and_its_dedup_ids_live_channel_ttl_after_the_last_write(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        first = message("6", "s")
        await h.store.publish([first])
        ttl = await h.ttl("6")
        assert ttl is not None
        assert 0 < ttl <= 2
        assert await h.ttl("nobody") is None
        await h.outlive(2, *h.user_keys("6"))
        assert await h.ttl("6") is None
        [again] = await h.store.publish([first])  # both expired: it is new again
        assert not again.duplicate

    run(stores, body, channel_ttl=2)


def test_a_session_owner_lives_owner_ttl_after_it_was_last_set_or_taught(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        await h.store.owners([], {"claimed": "1"})
        assert await h.store.owners(["claimed"]) == {"claimed": "1"}
        await h.outlive(2, *h.owner_key("claimed"))
        assert await h.store.owners(["claimed"]) == {}
        assert await h.store.owners([], {"claimed": "2"}) == {}  # free again: 2 wins it

    run(stores, body, owner_ttl_s=2)


def test_a_user_whose_keys_redis_refuses_gets_refused_results_and_the_others_are_written(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        await h.break_user("13")
        batch = [message("7", "s7"), message("13", "s13"), message("8", "s8"), message("13", "s")]
        results = await h.store.publish(batch)
        assert [r.refused is not None for r in results] == [False, True, False, True]
        assert all("WRONGTYPE" in (r.refused or "") for r in results[1::2])
        assert all(r.stream_id and not r.duplicate for r in results[::2])
        assert [r.owner for r in results] == ["7", None, "8", None]
        again = await h.store.publish([message("8", "s8")])
        assert again[0].stream_id > results[2].stream_id

    run(stores, body)


def test_a_session_whose_owner_key_redis_refuses_is_answered_refused_and_the_others_answered(
    stores: StoreFactory,
) -> None:
    async def body(h: StoreHarness) -> None:
        await h.store.owners([], {"held": "1"})
        await h.break_owner("looked_up")
        await h.break_owner("claimed")
        answer = await h.store.owners(["held", "looked_up", "free"], {"claimed": "2", "new": "3"})
        assert answer == {"held": "1"}
        assert set(answer.refused) == {"looked_up", "claimed"}
        assert all("WRONGTYPE" in why for why in answer.refused.values())
        assert await h.store.owners(["new"]) == {"new": "3"}  # the others' claims were made
        # Publishing to a refused session's owner key teaches nothing; the message is written.
        [result] = await h.store.publish([message("2", "claimed")])
        assert (result.refused, result.owner) == (None, None)
        assert result.stream_id

    run(stores, body)


def test_an_unreachable_store_raises_store_unavailable_that_may_pass(stores: StoreFactory) -> None:
    async def body(h: StoreHarness) -> None:
        with pytest.raises(StoreUnavailable) as caught:
            await h.store.publish([message("1", "s")])
        assert caught.value.retriable
        with pytest.raises(StoreUnavailable):
            await h.store.owners(["s"], {"t": "1"})
        with pytest.raises(StoreUnavailable):
            await h.store.ping()

    run(stores, body, down=True)
