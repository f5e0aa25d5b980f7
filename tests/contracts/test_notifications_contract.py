"""Notifications: one contract for the fake and RedisNotifications (single node and Cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection

import pytest

from domain.gateway.notices import NOTHING_BEFORE, NOTICE_MAX_ENTRIES, Notice
from tests.contracts.gateway_ports import Factory, eventually
from tests.contracts.notifications_harness import (
    KINDS,
    NotificationsUnderTest,
    notifications_factory,
    same_slot,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=KINDS)
def notifications(request: pytest.FixtureRequest) -> Factory:
    return notifications_factory(request)


class Listener:
    """What the gateway's hub hears from the port."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, Notice | None]] = []
        self.resubscribed: list[str] = []

    def notify(self, user: str, notice: Notice | None) -> None:
        self.heard.append((user, notice))

    def restored(self, users: Collection[str]) -> None:
        self.resubscribed += users

    def users(self) -> list[str]:
        return [u for u, _ in self.heard]

    def of(self, user: str) -> list[Notice]:
        return [n for u, n in self.heard if u == user and n is not None]


def run(
    factory: Factory, body: Callable[[NotificationsUnderTest, Listener], Awaitable[None]]
) -> None:
    async def scenario() -> None:
        async with factory() as n:
            heard = Listener()
            task = asyncio.create_task(
                n.notifications.run(notify=heard.notify, resubscribed=heard.restored)
            )
            try:
                await eventually(lambda: n.notifications.subscribed, "the subscriber")
                await body(n, heard)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            assert not n.notifications.subscribed

    asyncio.run(asyncio.wait_for(scenario(), 40))


async def _followed(n: NotificationsUnderTest, *users: str) -> None:
    """Follow `users` and wait until each is confirmed (a user confirmed before its wait began
    is reported `resubscribed`, as nobody waited for it)."""
    for user in users:
        n.notifications.follow(user)
    async with asyncio.timeout(10):
        for user in users:
            await n.notifications.confirmed(user)


def test_a_followed_user_gets_each_write_as_one_notification_with_the_entries_and_the_id_before(
    notifications: Factory,
) -> None:
    async def body(n: NotificationsUnderTest, heard: Listener) -> None:
        await _followed(n, "alice")
        first = await n.write("alice", 2)
        await eventually(lambda: len(heard.of("alice")) == 1, "the first notification")
        second = await n.write("alice", 3)
        await eventually(lambda: len(heard.of("alice")) == 2, "the second notification")
        one, two = heard.of("alice")
        # A new stream: nothing before the first entry; then the first write's last entry.
        assert (one.previous, one.last) == (NOTHING_BEFORE, first[-1])
        assert (two.previous, two.last) == (first[-1], second[-1])
        # The carried entries are exactly what a read after `previous` returns.
        assert one.entries == tuple((await n.read("alice", NOTHING_BEFORE))[:2])
        assert two.entries == tuple(await n.read("alice", first[-1]))
        assert heard.resubscribed == []  # confirmed while waited for: nothing to catch up

    run(notifications, body)


def test_a_write_too_large_to_carry_is_notified_by_its_ids_only(notifications: Factory) -> None:
    async def body(n: NotificationsUnderTest, heard: Listener) -> None:
        await _followed(n, "alice")
        ids = await n.write("alice", NOTICE_MAX_ENTRIES + 1)
        await eventually(lambda: len(heard.of("alice")) == 1, "the notification")
        [notice] = heard.of("alice")
        assert notice == Notice(NOTHING_BEFORE, ids[-1], None)

    run(notifications, body)


def test_only_followed_users_are_heard_and_an_unfollowed_one_no_longer(
    notifications: Factory,
) -> None:
    async def body(n: NotificationsUnderTest, heard: Listener) -> None:
        bob = same_slot("alice")  # one slot, one connection: what comes after proves an absence
        await _followed(n, "alice")
        await n.write(bob, 1)
        await n.write("alice", 1)
        await eventually(lambda: heard.users() == ["alice"], "alice's notification alone")
        n.notifications.unfollow("alice")
        # Batched with bob's subscription, and sent before it on the same connection: once bob
        # is confirmed, alice is no longer subscribed.
        await _followed(n, bob)
        await n.write("alice", 1)
        await n.write(bob, 1)
        await eventually(lambda: len(heard.heard) == 2, "bob's notification")
        assert heard.users() == ["alice", bob]

    run(notifications, body)


def test_two_gateways_each_hear_only_the_users_they_follow(notifications: Factory) -> None:
    ours = [f"ours-{i}" for i in range(6)]  # spread over the slots (on a Cluster: its masters)
    theirs = [same_slot(user) for user in ours]  # each on the same node connection as its pair

    async def body(n: NotificationsUnderTest, heard: Listener) -> None:
        other = Listener()
        task = asyncio.create_task(n.other.run(notify=other.notify, resubscribed=other.restored))
        try:
            await eventually(lambda: n.other.subscribed, "the other gateway's subscriber")
            await _followed(n, *ours)
            for user in theirs:
                n.other.follow(user)
            async with asyncio.timeout(10):
                for user in theirs:
                    await n.other.confirmed(user)
            for mine, yours in zip(ours, theirs, strict=True):
                # Each pair shares a slot, so each gateway hears the pair in order: what it
                # hears after the other gateway's user proves it did not hear that user.
                await n.write(yours, 1)
                await n.write(mine, 1)
                await n.write(yours, 1)
            await eventually(lambda: len(heard.heard) == len(ours), "our notifications")
            await eventually(lambda: len(other.heard) == 2 * len(theirs), "theirs")
            assert sorted(heard.users()) == sorted(ours)
            assert sorted(other.users()) == sorted(theirs * 2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(notifications, body)


def test_a_lost_connection_is_restored_and_its_users_reported_so_they_read_their_streams(
    notifications: Factory,
) -> None:
    async def body(n: NotificationsUnderTest, heard: Listener) -> None:
        await _followed(n, "alice", "bob")
        heard.resubscribed.clear()
        await n.drop()
        await eventually(lambda: sorted(heard.resubscribed) == ["alice", "bob"], "the report")
        assert n.notifications.subscribed
        ids = await n.write("alice", 1)
        await eventually(lambda: len(heard.of("alice")) == 1, "a notification after it")
        assert heard.of("alice")[0].last == ids[-1]

    run(notifications, body)


def test_while_redis_cannot_be_reached_it_keeps_trying_and_never_raises(
    notifications: Factory,
) -> None:
    async def scenario() -> None:
        async with notifications() as n:
            heard = Listener()
            n.broken.follow("alice")
            task = asyncio.create_task(
                n.broken.run(notify=heard.notify, resubscribed=heard.restored)
            )
            done, _ = await asyncio.wait({task}, timeout=1.0)  # bounded: proving an absence
            assert not done
            assert heard.resubscribed == []
            assert not n.broken.subscribed
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 30))
