"""Notifications: one contract, run against FakeNotifications and RedisNotifications alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.contracts.gateway_ports import (
    Factory,
    NotificationsUnderTest,
    eventually,
    notifications_factory,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["fake", "real"])
def notifications(request: pytest.FixtureRequest) -> Factory:
    return notifications_factory(request)


class Listener:
    """What the gateway's hub hears from the port."""

    def __init__(self) -> None:
        self.woken: list[str] = []
        self.subscriptions = 0

    def wake(self, user: str) -> None:
        self.woken.append(user)

    def subscribed(self) -> None:
        self.subscriptions += 1


def run(factory: Factory, body: Callable[[NotificationsUnderTest], Awaitable[None]]) -> None:
    async def scenario() -> None:
        async with factory() as n:
            await body(n)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def _started(n: NotificationsUnderTest, heard: Listener) -> asyncio.Task[None]:
    return asyncio.create_task(n.notifications.run(wake=heard.wake, subscribed=heard.subscribed))


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_once_subscribed_a_notification_wakes_exactly_its_user(notifications: Factory) -> None:
    async def body(n: NotificationsUnderTest) -> None:
        heard = Listener()
        assert not n.notifications.subscribed
        task = _started(n, heard)
        await eventually(lambda: heard.subscriptions == 1, "the subscription")
        assert n.notifications.subscribed
        await n.notify("alice")
        await n.notify("bob@x.io")
        await eventually(lambda: len(heard.woken) == 2, "both wake-ups")
        assert heard.woken == ["alice", "bob@x.io"]
        await _stopped(task)
        assert not n.notifications.subscribed

    run(notifications, body)


def test_a_lost_subscription_comes_back_and_says_so_so_every_connection_rereads(
    notifications: Factory,
) -> None:
    async def body(n: NotificationsUnderTest) -> None:
        heard = Listener()
        task = _started(n, heard)
        await eventually(lambda: heard.subscriptions == 1, "the subscription")
        await n.drop()
        await eventually(lambda: heard.subscriptions == 2, "the subscription to come back")
        assert n.notifications.subscribed
        await n.notify("alice")
        await eventually(lambda: heard.woken == ["alice"], "a wake-up after the resubscription")
        await _stopped(task)

    run(notifications, body)


def test_while_redis_cannot_be_reached_it_keeps_trying_and_never_raises(
    notifications: Factory,
) -> None:
    async def body(n: NotificationsUnderTest) -> None:
        heard = Listener()
        task = asyncio.create_task(n.broken.run(wake=heard.wake, subscribed=heard.subscribed))
        done, _ = await asyncio.wait({task}, timeout=1.0)  # bounded: proving an absence
        assert not done
        assert heard.subscriptions == 0
        assert not n.broken.subscribed
        await _stopped(task)

    run(notifications, body)
