"""The SSE stream over a real uvicorn: resume, reset, heartbeat, isolation, slow readers."""

from __future__ import annotations

import asyncio

import orjson

from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, eventually
from tests.integration.gateway.sse_client import Frame, open_stream


def _ids(frames: list[Frame]) -> list[str]:
    return [f.id or "" for f in frames]


def test_stream_sends_retry_then_each_entry_with_its_id_type_and_data_verbatim(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"retry_ms": 1234})

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            first = await stream.next()
            assert first.retry == 1234
            ids = await gw.publish("u1", 3)
            frames = await stream.messages(3)
            assert _ids(frames) == ids
            assert {f.event for f in frames} == {"Genesis.Session.Theme.Proposed"}
            async with gw.redis() as client:
                raw = await client.xrange(gw.keys.stream("u1"))
            assert [f.text.encode() for f in frames] == [fields[b"d"] for _, fields in raw]

    asyncio.run(scenario())


def test_resume_after_disconnect_replays_the_rest_then_goes_live_without_gap_or_duplicate(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"replay_page": 7})

    async def scenario() -> None:
        async with gw.serve():
            ids = await gw.publish("u1", 5)
            async with open_stream(gw.base_url, token=gw.token("u1")) as stream:
                more = await gw.publish("u1", 3)
                seen = await stream.messages(3)
            assert _ids(seen) == more  # a fresh connection starts live (history=0)
            missed = await gw.publish("u1", 40)  # while disconnected: several replay pages
            headers = {"last-event-id": seen[-1].id or ""}
            async with open_stream(gw.base_url, token=gw.token("u1"), headers=headers) as stream:
                replayed = await stream.messages(40)
                live = await gw.publish("u1", 5)
                after = await stream.messages(5)
            assert _ids(replayed) == missed
            assert _ids(after) == live
            # The query parameter works too (a browser after a new ticket), from any point.
            params = {"last_event_id": ids[2]}
            async with open_stream(gw.base_url, token=gw.token("u1"), params=params) as stream:
                rest = await stream.messages(2 + 3 + 40 + 5)
            assert _ids(rest) == ids[3:] + more + missed + live

    asyncio.run(scenario())


def test_history_sends_the_last_n_events_and_the_session_filter_keeps_one_session(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        async with gw.serve():
            a = await gw.publish("u1", 4, session="11111111-1111-4111-8111-111111111111")
            b = await gw.publish("u1", 3, session="22222222-2222-4222-8222-222222222222")
            token = gw.token("u1")
            async with open_stream(gw.base_url, token=token, params={"history": "5"}) as stream:
                assert _ids(await stream.messages(5)) == a[2:] + b
            params = {"history": "2", "session_id": "11111111-1111-4111-8111-111111111111"}
            async with open_stream(gw.base_url, token=token, params=params) as stream:
                assert _ids(await stream.messages(2)) == a[2:]
                await gw.publish("u1", 2, session="22222222-2222-4222-8222-222222222222")
                a2 = await gw.publish("u1", 1, session="11111111-1111-4111-8111-111111111111")
                assert _ids(await stream.messages(1)) == a2

    asyncio.run(scenario())


def test_a_trimmed_malformed_or_expired_last_event_id_gets_a_reset_first(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, redis={"stream_maxlen": 10})

    async def reset_then(last_id: str, n: int) -> tuple[dict[str, object], list[Frame]]:
        headers = {"last-event-id": last_id}
        async with open_stream(gw.base_url, token=gw.token("u1"), headers=headers) as stream:
            frames = await stream.messages(1 + n)
        assert frames[0].event == "reset"
        assert frames[0].id is None
        return orjson.loads(frames[0].text), frames[1:]

    async def scenario() -> None:
        async with gw.serve():
            ids = await gw.publish("u1", 250)  # MAXLEN ~ 10 trims whole nodes of 100
            async with gw.redis() as client:
                held = [i.decode() for i, _ in await client.xrange(gw.keys.stream("u1"))]
            assert ids[0] not in held
            assert held == ids[-len(held) :]
            info, rest = await reset_then(ids[0], len(held))
            assert info["reason"] == "trimmed"
            assert info["oldest"] == held[0]
            assert _ids(rest) == held  # then everything still held, in order
            # The id right before the oldest held entry lost nothing: no reset.
            before = ids[ids.index(held[0]) - 1]
            headers = {"last-event-id": before}
            async with open_stream(gw.base_url, token=gw.token("u1"), headers=headers) as stream:
                assert _ids(await stream.messages(len(held))) == held
            info, rest = await reset_then("not-an-id", len(held))
            assert info["reason"] == "malformed"
            assert _ids(rest) == held
            async with gw.redis() as client:
                await client.delete(gw.keys.stream("u1"))
            headers = {"last-event-id": ids[-1]}
            async with open_stream(gw.base_url, token=gw.token("u1"), headers=headers) as stream:
                frame = (await stream.messages(1))[0]
                assert (frame.event, orjson.loads(frame.text)["reason"]) == ("reset", "expired")
                new = await gw.publish("u1", 2)
                assert _ids(await stream.messages(2)) == new

    asyncio.run(scenario())


def test_a_user_never_receives_another_users_events(real_services: Services, unique: str) -> None:
    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        async with (
            gw.serve(),
            open_stream(gw.base_url, token=gw.token("alice")) as alice,
            open_stream(gw.base_url, token=gw.token("alice@x.io")) as lookalike,
            open_stream(gw.base_url, token=gw.token("bob")) as bob,
        ):
            mine, theirs, other = [], [], []
            for _ in range(5):
                mine += await gw.publish("alice", 2)
                theirs += await gw.publish("bob", 3)
                other += await gw.publish("alice@x.io", 1)
            assert _ids(await alice.messages(10)) == mine
            assert _ids(await bob.messages(15)) == theirs
            assert _ids(await lookalike.messages(5)) == other
            # Nothing else was queued for them: the next frame each gets is their next event.
            last_a, last_b = await gw.publish("alice", 1), await gw.publish("bob", 1)
            assert _ids(await alice.messages(1)) == last_a
            assert _ids(await bob.messages(1)) == last_b

    asyncio.run(scenario())


def test_an_idle_stream_gets_heartbeat_comments(real_services: Services, unique: str) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"heartbeat_s": 0.2})

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            await stream.next()  # retry
            # A generous deadline: a loaded machine may delay a 0.2 s beat by seconds.
            beats = [await stream.next(within=15) for _ in range(3)]
            assert all(f.comments == ["hb"] and not f.data for f in beats)

    asyncio.run(scenario())


def test_a_slow_reader_is_cut_off_and_then_resumes_without_loss(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(
        real_services,
        unique,
        gateway={"send_buffer": 4, "slow_client_s": 0.5},
        redis={"stream_maxlen": 2000},
    )

    async def scenario() -> None:
        async with gw.serve():
            received: list[Frame] = []
            async with open_stream(gw.base_url, token=gw.token("u1")) as stream:
                await stream.next()  # retry; then the client stops reading
                ids = await gw.publish("u1", 400, size=60_000)  # ~24 MB, more than any socket

                async def cut() -> bool:
                    return gw.telemetry.closed["slow_client"] == 1

                await eventually(cut, "the slow reader to be cut off", within=30)
                # What reached the client before the cut is still readable; then it breaks off.
                received += await stream.until_end(within=30)
                assert stream.broken
            assert 0 < len(received) < len(ids)
            headers = {"last-event-id": received[-1].id or ""}
            async with open_stream(gw.base_url, token=gw.token("u1"), headers=headers) as stream:
                received += await stream.messages(len(ids) - len(received), within=60)
            assert _ids(received) == ids

    asyncio.run(scenario())


def test_last_event_ids_redis_would_reject_get_a_malformed_reset_never_a_503(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique)
    in_header = ["18446744073709551616-0", "1-18446744073709551616", "99999999999999999999-0"]
    in_query = [
        *in_header,
        "\u0661\u0662\u0663-\u0660",
        "1-1\n",
        "1-1\r\n",
        "12-3 ",
    ]  # a header holds no newline

    async def first_frames(headers: dict[str, str], params: dict[str, str], n: int) -> list[Frame]:
        token = gw.token("u1")
        async with open_stream(gw.base_url, token=token, headers=headers, params=params) as stream:
            return await stream.messages(n)

    async def scenario() -> None:
        async with gw.serve():
            ids = await gw.publish("u1", 3)
            cases = [({"last-event-id": v}, {}) for v in in_header]
            cases += [({}, {"last_event_id": v}) for v in in_query]
            for headers, params in cases:
                reset, *rest = await first_frames(headers, params, 1 + len(ids))
                assert (reset.event, orjson.loads(reset.text)["reason"]) == ("reset", "malformed")
                assert _ids(rest) == ids, (headers, params)
            # The largest id Redis can represent is well formed; nothing can follow it.
            newest = {"last-event-id": "18446744073709551615-18446744073709551615"}
            reset, *rest = await first_frames(newest, {}, 1 + len(ids))
            assert (reset.event, orjson.loads(reset.text)["reason"]) == ("reset", "unknown_id")
            assert _ids(rest) == ids
        assert gw.telemetry.rejections["store_unavailable"] == 0

    asyncio.run(scenario())
