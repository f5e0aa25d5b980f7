"""Notifications through real gateways and a real Redis: direct writes, healing, isolation."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import httpx

from domain.gateway.notices import NoticeKind
from simulator.hops import histogram_quantiles
from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, eventually
from tests.integration.gateway.sse_client import Frame, SseStream, open_stream

QUIET = {"heartbeat_s": 30}  # no tick during a test: only notifications deliver


def _ids(frames: list[Frame]) -> list[str]:
    return [f.id or "" for f in frames]


async def _stream_reads(gw: GatewayHarness) -> int:
    """How many XRANGE calls Redis served so far (the gateway's reads after a cursor; the
    publish script never runs one)."""
    async with gw.redis() as client:
        stats = await client.info("commandstats")
    return int(stats.get("cmdstat_xrange", {}).get("calls", 0))


async def _subscribers(gw: GatewayHarness, user: str) -> int:
    async with gw.redis() as client:
        reply = await client.execute_command("PUBSUB", "SHARDNUMSUB", gw.keys.notify(user))
    return int(reply[1])


def test_live_events_are_written_from_their_notification_and_a_gap_is_read_from_the_stream(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway=QUIET)

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            await stream.next()  # retry: registered, subscribed, its start read
            reads = await _stream_reads(gw)
            live = await gw.publish("u1", 3)
            live += await gw.publish("u1", 2)
            assert _ids(await stream.messages(5)) == live
            assert await _stream_reads(gw) == reads  # no read: both came as notified
            async with gw.redis() as client:
                # Written behind the bridge's back: no notification, so a gap after the cursor.
                behind = [
                    (await client.xadd(gw.keys.stream("u1"), {"e": "T", "s": "s", "d": "{}"}))
                    for _ in range(2)
                ]
            after = await gw.publish("u1", 2)  # its previous id is not the cursor: a read
            healed = await stream.messages(4)
            assert _ids(healed) == [b.decode() for b in behind] + after  # no gap, no duplicate
            assert await _stream_reads(gw) > reads
            again = await gw.publish("u1", 1)  # at the cursor once more: direct
            assert _ids(await stream.messages(1)) == again
            assert gw.telemetry.notices == {
                NoticeKind.DIRECT: 3,
                NoticeKind.READ: 1,
                NoticeKind.IGNORED: 0,
            }

    asyncio.run(scenario())


def test_a_session_filtered_connection_gets_its_sessions_notified_entries_and_nothing_else(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway=QUIET)

    async def scenario() -> None:
        params = {"session_id": gw.session}
        async with (
            gw.serve(),
            open_stream(gw.base_url, token=gw.token("u1"), params=params) as mine,
            open_stream(gw.base_url, token=gw.token("u1")) as every,
        ):
            await mine.next()
            await every.next()
            reads = await _stream_reads(gw)
            one = await gw.publish("u1", 2)
            other = await gw.publish("u1", 3, session="0f0c8c33-6e3c-4f4c-9d0e-1b7c2e8a9f10")
            two = await gw.publish("u1", 1)
            assert _ids(await mine.messages(3)) == one + two
            assert _ids(await every.messages(6)) == one + other + two
            assert await _stream_reads(gw) == reads
            assert gw.telemetry.notices[NoticeKind.DIRECT] == 6  # 3 writes x 2 connections

    asyncio.run(scenario())


def test_two_gateways_each_receive_only_the_notifications_of_their_own_users(
    real_services: Services, unique: str
) -> None:
    # One deployment (one key prefix), two gateway processes' worth of state.
    first = GatewayHarness(real_services, unique, gateway=QUIET)
    second = GatewayHarness(real_services, unique, gateway=QUIET)
    users = {first: ["a1", "a2", "a3"], second: ["b1", "b2"]}

    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            streams: dict[str, SseStream] = {}
            for gw, mine in users.items():
                await stack.enter_async_context(gw.serve())
                for user in mine:
                    streams[user] = await stack.enter_async_context(
                        open_stream(gw.base_url, token=gw.token(user))
                    )
                    await streams[user].next()
            written: dict[str, list[str]] = {}
            for round_ in range(2):
                for user in streams:
                    written[user] = written.get(user, []) + await first.publish(user, round_ + 1)
            for user, stream in streams.items():
                assert _ids(await stream.messages(3)) == written[user]
                assert await _subscribers(first, user) == 1  # one gateway follows each user
            for gw, mine in users.items():
                counts: dict[str, Any] = gw.telemetry.notices
                assert counts[NoticeKind.IGNORED] == 0  # nothing for anyone else reached it
                assert sum(counts.values()) == 2 * len(mine)  # one per write of its users
            # The last connection of a user closes: that gateway stops following it.
            await streams["a1"].response.aclose()

            async def a1_unfollowed() -> bool:
                return await _subscribers(first, "a1") == 0

            await eventually(a1_unfollowed, "a1's channel to be unsubscribed")
            assert await _subscribers(first, "a2") == 1

    asyncio.run(scenario())


def test_metrics_show_the_redis_to_sse_write_hop_the_sweep_reads_and_notifications_by_kind(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway=QUIET)

    async def scenario() -> str:
        async with gw.serve(otel=True), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            await stream.next()
            written = []
            for _ in range(12):  # the first write is sampled (then one in fifty)
                written += await gw.publish("u1", 1)
            assert _ids(await stream.messages(12)) == written
            async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
                return (await client.get("/metrics")).text

    body = asyncio.run(scenario())
    assert 'eventbridge_gateway_notifications_total{kind="direct"} 12.0' in body
    assert 'eventbridge_gateway_notifications_total{kind="ignored"} 0.0' in body
    assert "eventbridge_sse_sent_total 12.0" in body
    hop = histogram_quantiles(body, "redis_to_sse_write")  # what `simulator sweep` shows
    assert hop is not None
    assert 0 <= hop["p50"] <= hop["p99"] < 60_000
    assert "u1" not in body


async def _calls(gw: GatewayHarness, *commands: str) -> dict[str, int]:
    async with gw.redis() as client:
        stats = await client.info("commandstats")
    return {c: int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in commands}


def test_a_write_for_a_user_no_gateway_follows_builds_and_sends_no_notification(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway=QUIET)

    async def scenario() -> None:
        async with gw.serve():
            before = await _calls(gw, "spublish", "xrevrange")
            await gw.publish("offline", 3)
            assert await _calls(gw, "spublish", "xrevrange") == before
            async with open_stream(gw.base_url, token=gw.token("online")) as stream:
                await stream.next()
                before = await _calls(gw, "spublish", "xrevrange")
                ids = await gw.publish("online", 3)
                assert _ids(await stream.messages(3)) == ids
                after = await _calls(gw, "spublish", "xrevrange")
            assert {c: after[c] - before[c] for c in after} == {"spublish": 1, "xrevrange": 1}

    asyncio.run(scenario())
