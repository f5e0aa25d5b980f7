"""RedisStreamStore beyond the port contract (tests/contracts): the exact keys and fields, the
script's argument layout, a Redis that forgot the script, ACL refusals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from adapters.redis.client import open_client
from adapters.redis.notice_format import parse_notice
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from domain.gateway.entries import Entry
from domain.gateway.notices import NOTHING_BEFORE, Notice
from domain.model import SseMessage
from simulator.services import Services
from tests.contracts.store_harness import message

StoreFactory = Callable[[], Any]


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


def test_the_redis_stream_holds_what_the_contract_says(
    real_services: Services, unique: str
) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            m = message("42", "sess-1")
            pubsub_client = store._client  # same connection pool; fine for a test
            pubsub = pubsub_client.pubsub()
            # Sharded, and only while someone listens: the script asks before it builds one.
            await pubsub.ssubscribe(f"t{unique}:user:{{42}}:notify")
            await pubsub.get_message(timeout=1.0)  # the ssubscribe confirmation
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
            # The entries appended and the id before them (docs/redis-contract.md).
            entry = Entry(result.stream_id.encode(), m.event_type.encode(), b"sess-1", m.data)
            assert note["type"] == "smessage"
            assert parse_notice(note["data"]) == Notice(NOTHING_BEFORE, result.stream_id, (entry,))
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


def test_a_redis_that_forgot_the_script_gets_it_again(real_services: Services, unique: str) -> None:
    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            await store.publish([message("8", "s")])
            await store._client.script_flush()
            [result] = await store.publish([message("8", "s")])
            assert result.stream_id
            assert not result.duplicate

    asyncio.run(asyncio.wait_for(scenario(), 30))


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


def test_a_user_whose_dedup_ids_key_holds_another_type_is_refused_and_the_others_written(
    real_services: Services, unique: str
) -> None:
    """The ids key is read first for every event: its WRONGTYPE refuses all of that user's
    events before anything of theirs is written."""

    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            await store._client.set(f"t{unique}:user:{{13}}:ids", "not a zset")
            batch = [message("13", "s13"), message("7", "s7"), message("13", "s")]
            results = await store.publish(batch)
            assert [r.refused is not None for r in results] == [True, False, True]
            assert "WRONGTYPE" in (results[0].refused or "")
            assert results[1].stream_id
            assert await store._client.exists(f"t{unique}:user:{{13}}:stream") == 0

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_user_whose_stream_was_replaced_is_refused_even_for_events_already_written(
    real_services: Services, unique: str
) -> None:
    """Something else overwrote a user's stream after their events were written: a
    redelivery of those events (all duplicates by the ids key, the stream untouched) is
    refused like a new event is, and a batch with a duplicate first writes nothing of theirs."""

    async def scenario() -> None:
        async with real_store(real_services.redis_url, unique) as store:
            client = store._client
            old = message("13", "s")
            [written] = await store.publish([old])
            assert written.stream_id
            await client.set(f"t{unique}:user:{{13}}:stream", "not a stream")
            [again] = await store.publish([old])
            assert again.refused is not None
            assert "WRONGTYPE" in again.refused
            results = await store.publish([old, message("13", "s"), message("7", "s7")])
            assert [r.refused is not None for r in results] == [True, True, False]
            assert await client.get(f"t{unique}:user:{{13}}:stream") == b"not a stream"
            assert await client.zcard(f"t{unique}:user:{{13}}:ids") == 1

    asyncio.run(asyncio.wait_for(scenario(), 30))
