"""One contract for StreamStore, run against the fake and the real Redis adapter alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from adapters.redis.client import open_client
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from application.fakes import FakeStreamStore
from application.ports import StoreUnavailable, StreamStore
from domain.model import SseMessage
from simulator.processes import free_port
from simulator.services import Services

StoreFactory = Callable[[], Any]


def message(
    user: str, session: str, *, event_id: str | None = None, teaches: bool = True
) -> SseMessage:
    eid = event_id or str(uuid.uuid4())
    return SseMessage(
        user,
        session,
        eid,
        "Genesis.Session.Theme.Proposed",
        b'{"event_id":"%s"}' % eid.encode(),
        teaches_owner=teaches,
    )


@asynccontextmanager
async def real_store(url: str, unique: str) -> AsyncIterator[RedisStreamStore]:
    settings = RedisSettings(
        url=url,
        sse_prefix=f"t{unique}:user:",
        session_prefix=f"t{unique}:session:",
        dedup_window=50,
    )
    async with open_client(settings) as client:
        yield RedisStreamStore(client=client, settings=settings)


@asynccontextmanager
async def fake_store(url: str, unique: str) -> AsyncIterator[FakeStreamStore]:
    yield FakeStreamStore(dedup_window=50)


@pytest.fixture(params=["fake", "redis"])
def store_under_test(request: pytest.FixtureRequest, real_services: Services, unique: str) -> Any:
    factory = fake_store if request.param == "fake" else real_store
    return lambda: factory(real_services.redis_url, unique)


def run(body: Callable[[StreamStore], Awaitable[None]], factory: Any) -> None:
    async def scenario() -> None:
        async with factory() as store:
            await body(store)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_publish_returns_one_new_entry_id_per_message_in_order(store_under_test: Any) -> None:
    async def body(store: StreamStore) -> None:
        batch = [message("1", "s1"), message("2", "s2"), message("1", "s1")]
        results = await store.publish(batch)
        assert [r.event_id for r in results] == [m.event_id for m in batch]
        assert not any(r.duplicate for r in results)
        assert all(r.stream_id for r in results)
        assert results[0].stream_id != results[2].stream_id

    run(body, store_under_test)


def test_publishing_the_same_event_again_is_a_duplicate_and_appends_nothing(
    store_under_test: Any,
) -> None:
    async def body(store: StreamStore) -> None:
        first = message("7", "s")
        await store.publish([first])
        again = await store.publish([first, message("7", "s", event_id=first.event_id)])
        assert [r.duplicate for r in again] == [True, True]
        assert [r.stream_id for r in again] == ["", ""]

    run(body, store_under_test)


def test_a_producer_duplicate_inside_one_batch_is_written_once_and_keeps_its_entry_id(
    store_under_test: Any,
) -> None:
    async def body(store: StreamStore) -> None:
        first = message("7", "s")
        copy = message("7", "s", event_id=first.event_id)
        other = message("8", "s2")
        results = await store.publish([first, other, copy])
        assert [r.duplicate for r in results] == [False, False, True]
        assert results[0].stream_id
        assert results[1].stream_id
        assert results[2].stream_id == ""
        again = await store.publish([message("7", "s")])
        assert again[0].stream_id > results[0].stream_id

    run(body, store_under_test)


def test_the_first_owner_of_a_session_wins(store_under_test: Any) -> None:
    async def body(store: StreamStore) -> None:
        await store.publish([message("1", "shared")])
        await store.publish([message("2", "shared")])
        await store.publish([message("3", "quiet", teaches=False)])
        assert await store.owners(["shared", "quiet", "unknown"]) == {"shared": "1"}

    run(body, store_under_test)


def test_a_publish_answers_the_owner_the_index_holds_for_each_teaching_message(
    store_under_test: Any,
) -> None:
    async def body(store: StreamStore) -> None:
        first = await store.publish([message("1", "s"), message("2", "s")])
        assert [r.owner for r in first] == ["1", "1"]  # the first in the batch wins
        later = await store.publish([message("3", "s"), message("3", "t", teaches=False)])
        assert [r.owner for r in later] == ["1", None]

    run(body, store_under_test)


def test_a_claim_sets_a_free_session_atomically_and_answers_the_owner_before(
    store_under_test: Any,
) -> None:
    async def body(store: StreamStore) -> None:
        await store.publish([message("1", "taken")])
        before = await store.owners(["asked", "taken"], {"free": "2", "taken": "3"})
        assert before == {"taken": "1"}  # "free" had none: now it is 2's; "taken" stays 1's
        assert await store.owners(["free", "taken", "asked"]) == {"free": "2", "taken": "1"}
        [result] = await store.publish([message("4", "free")])
        assert result.owner == "2"

    run(body, store_under_test)


def test_an_unreachable_redis_raises_store_unavailable() -> None:
    settings = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout_s=0.5)

    async def scenario() -> None:
        async with open_client(settings) as client:
            store = RedisStreamStore(client=client, settings=settings)
            with pytest.raises(StoreUnavailable) as caught:
                await store.publish([message("1", "s")])
            assert caught.value.retriable
            with pytest.raises(StoreUnavailable):
                await store.owners(["s"])

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_the_redis_stream_holds_what_the_contract_says(
    real_services: Services, unique: str
) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            m = message("42", "sess-1")
            pubsub_client = store._client  # same connection pool; fine for a test
            pubsub = pubsub_client.pubsub()
            await pubsub.psubscribe(f"t{unique}:user:*:notify")
            await pubsub.get_message(timeout=1.0)  # the psubscribe confirmation
            [result] = await store.publish([m])
            entries = await pubsub_client.xrange(f"t{unique}:user:{{42}}:stream")
            assert entries == [
                (
                    result.stream_id.encode(),
                    {
                        b"e": m.event_type.encode(),
                        b"s": b"sess-1",
                        b"i": m.event_id.encode(),
                        b"d": m.data,
                    },
                )
            ]
            ttl = await pubsub_client.ttl(f"t{unique}:user:{{42}}:stream")
            assert 0 < ttl <= 3600
            note = None
            for _ in range(20):
                note = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if note:
                    break
            assert note is not None
            assert note["data"] == result.stream_id.encode()
            await pubsub.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_every_field_comes_back_byte_for_byte_whatever_it_holds(
    real_services: Services, unique: str
) -> None:
    """The script gets each event as one length-prefixed argument: nothing in a field (digits
    and colons, multi-byte UTF-8, NUL) may shift where the next field starts."""
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    odd = [
        SseMessage("7", "12:34:", str(uuid.uuid4()), "Genesis.Session.Thème.Proposed", b"1:2:"),
        SseMessage("7", "sé", str(uuid.uuid4()), "X", b'{"a":"\\u0000"}\x00\xff', traceparent=tp),
        SseMessage("7", "s", str(uuid.uuid4()), "Y", b""),
    ]

    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            results = await store.publish(odd)
            entries = await store._client.xrange(f"t{unique}:user:{{7}}:stream")
            assert [e[0].decode() for e in entries] == [r.stream_id for r in results]
            for (_, fields), m in zip(entries, odd, strict=True):
                expected = {
                    b"e": m.event_type.encode(),
                    b"s": m.session_id.encode(),
                    b"i": m.event_id.encode(),
                    b"d": m.data,
                }
                if m.traceparent:
                    expected[b"tp"] = tp.encode()
                assert fields == expected
            again = await store.publish(odd)
            assert all(r.duplicate for r in again)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_redelivery_older_than_the_dedup_window_is_appended_again(
    store_under_test: Any,
) -> None:
    async def body(store: StreamStore) -> None:
        old = message("5", "s")
        await store.publish([old])
        await store.publish([message("5", "s") for _ in range(49)])
        [still] = await store.publish([old])
        assert still.duplicate  # 50 ids remembered: the oldest is still one of them
        await store.publish([message("5", "s")])
        [again] = await store.publish([old])
        assert not again.duplicate  # 51 newer ids: it left the window and is appended again
        assert again.stream_id

    run(body, store_under_test)


def test_the_dedup_ids_expire_with_the_stream(real_services: Services, unique: str) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            await store.publish([message("6", "s")])
            client = store._client
            stream_ttl = await client.ttl(f"t{unique}:user:{{6}}:stream")
            ids_ttl = await client.ttl(f"t{unique}:user:{{6}}:ids")
            assert 3590 <= stream_ttl <= 3600
            assert abs(ids_ttl - stream_ttl) <= 1

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_the_dedup_window_is_bounded(real_services: Services, unique: str) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            await store.publish([message("5", "s") for _ in range(120)])
            members = await store._client.zcard(f"t{unique}:user:{{5}}:ids")
            assert members == 50

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_redis_that_forgot_the_script_gets_it_again(real_services: Services, unique: str) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            await store.publish([message("8", "s")])
            await store._client.script_flush()
            [result] = await store.publish([message("8", "s")])
            assert result.stream_id
            assert not result.duplicate

    asyncio.run(asyncio.wait_for(scenario(), 30))


def break_user(store: Any, user: str, unique: str) -> Awaitable[Any] | None:
    """Make Redis refuse to write `user`'s stream, the same way every time."""
    if isinstance(store, FakeStreamStore):
        store.refused_users.add(user)
        return None
    return store._client.set(f"t{unique}:user:{{{user}}}:stream", "not a stream")


def test_a_user_whose_keys_redis_refuses_gets_refused_results_and_the_others_are_written(
    store_under_test: Any, unique: str
) -> None:
    async def body(store: StreamStore) -> None:
        pending = break_user(store, "13", unique)
        if pending is not None:
            await pending
        batch = [message("7", "s7"), message("13", "s13"), message("8", "s8"), message("13", "s")]
        results = await store.publish(batch)
        assert [r.refused is not None for r in results] == [False, True, False, True]
        assert all("WRONGTYPE" in (r.refused or "") for r in results[1::2])
        assert all(r.stream_id and not r.duplicate for r in results[::2])
        assert [r.owner for r in results] == ["7", None, "8", None]
        again = await store.publish([message("8", "s8")])
        assert again[0].stream_id > results[2].stream_id

    run(body, store_under_test)


def test_a_user_the_acl_forbids_is_refused_and_the_batch_is_written_for_the_others(
    real_services: Services, unique: str
) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as admin:
            name = f"bridge-{unique}"
            await admin._client.execute_command(
                "ACL", "SETUSER", name, "on", ">pw", "+@all", "&*",
                f"~t{unique}:user:{{7}}:*", f"~t{unique}:session:*",
            )  # fmt: skip
            try:
                url = real_services.redis_url.replace("redis://", f"redis://{name}:pw@", 1)
                async with real_store(url, unique) as store:
                    results = await store.publish([message("7", "s7"), message("13", "s13")])
                assert results[0].stream_id
                assert results[1].refused is not None
                assert "NoPermissionError" in results[1].refused
            finally:
                await admin._client.execute_command("ACL", "DELUSER", name)

    asyncio.run(asyncio.wait_for(scenario(), 30))
