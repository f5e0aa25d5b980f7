"""Sharded notifications on a Redis Cluster: a slot that moves and a master that fails over take
a gateway's subscriptions with them, and the gateway follows them to the new node."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from adapters.redis.client import open_client
from adapters.redis.keys import RedisKeys
from adapters.redis.node_connections import NodeConnector
from adapters.redis.notifications import RedisNotifications
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from application.ports import StoreUnavailable
from domain.gateway.notices import Notice
from domain.model import SseMessage
from simulator.processes import wait_until
from simulator.redis_cluster import LocalClusterNode, LocalRedisCluster
from tests.contracts.gateway_ports import eventually

pytestmark = pytest.mark.timeout(180)


@dataclass
class Heard:
    notices: list[tuple[str, Notice | None]] = field(default_factory=list)
    resubscribed: list[str] = field(default_factory=list)

    def notify(self, user: str, notice: Notice | None) -> None:
        self.notices.append((user, notice))

    def restored(self, users: Collection[str]) -> None:
        self.resubscribed += users

    def lasts(self, user: str) -> list[str]:
        return [n.last for u, n in self.notices if u == user and n is not None]


@dataclass
class Subscribed:
    notifications: RedisNotifications
    heard: Heard
    keys: RedisKeys
    store: RedisStreamStore

    async def write(self, user: str) -> str:
        message = SseMessage(user, "s", str(uuid.uuid4()), "T", b"{}")
        [result] = await self.store.publish([message])
        return result.stream_id

    async def follow(self, user: str) -> None:
        self.notifications.follow(user)
        async with asyncio.timeout(20):
            await self.notifications.confirmed(user)

    async def delivered(self, user: str, what: str) -> None:
        """A write to `user` now reaches the subscriber (the write retried: right after a
        topology change the bridge's own client may need a moment to find the new master)."""
        async with asyncio.timeout(20):
            while True:
                try:
                    entry = await self.write(user)
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.2)  # the bridge's own retry, in short
        await eventually(lambda: entry in self.heard.lasts(user), what, within=20)


@asynccontextmanager
async def subscribed(cluster: LocalRedisCluster, unique: str) -> AsyncIterator[Subscribed]:
    settings = RedisSettings(
        url=cluster.url,
        cluster=True,
        sse_prefix=f"t{unique}:user:",
        session_prefix=f"t{unique}:session:",
        ticket_prefix=f"t{unique}:ticket:",
    )
    keys = RedisKeys(settings.sse_prefix, settings.session_prefix, settings.ticket_prefix)
    notifications = RedisNotifications(
        connector=NodeConnector(settings), keys=keys, cluster=True, idle_s=1.0
    )
    heard = Heard()
    task = asyncio.create_task(notifications.run(notify=heard.notify, resubscribed=heard.restored))
    try:
        async with open_client(settings) as client:
            await eventually(lambda: notifications.subscribed, "the subscriber", within=20)
            store = RedisStreamStore(client=client, settings=settings)
            yield Subscribed(notifications, heard, keys, store)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _subscribers_on(node: LocalClusterNode, channel: str) -> int:
    client = node.client()
    try:
        reply = client.execute_command("PUBSUB", "SHARDNUMSUB", channel)
    finally:
        client.close()
    return int(reply[1])


def _move_slot(cluster: LocalRedisCluster, slot: int, to: LocalClusterNode) -> None:
    """Migrate `slot` with its keys to the master `to`, as `redis-cli --cluster reshard` does."""
    source = cluster.master_of(slot=slot)
    source_id, target_id = source.command("CLUSTER", "MYID"), to.command("CLUSTER", "MYID")
    to.command("CLUSTER", "SETSLOT", str(slot), "IMPORTING", source_id)
    source.command("CLUSTER", "SETSLOT", str(slot), "MIGRATING", target_id)
    client = source.client()
    try:
        while keys := client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            client.execute_command("MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", *keys)
    finally:
        client.close()
    masters = {cluster.master_of(slot=s) for s in (0, 8000, 16383)} | {to}
    for node in (to, source, *(masters - {to, source})):
        node.command("CLUSTER", "SETSLOT", str(slot), "NODE", target_id)
    wait_until(
        lambda: cluster.master_of(slot=slot) is to and cluster.serving(),
        timeout_s=30,
        what=f"slot {slot} to be served by port {to.port}",
    )


def test_a_slot_moved_to_another_master_is_subscribed_there_and_its_notifications_go_on(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    user = "mover"

    async def scenario() -> None:
        async with subscribed(redis_cluster, unique) as sub:
            channel = sub.keys.notify(user)
            slot = redis_cluster.keyslot(channel)
            home = redis_cluster.master_of(slot=slot)
            await sub.follow(user)
            await sub.delivered(user, "a notification before the move")
            assert _subscribers_on(home, channel) == 1
            sub.heard.resubscribed.clear()
            others = {redis_cluster.master_of(slot=s) for s in (0, 8000, 16383)} - {home}
            target = sorted(others, key=lambda n: n.port)[0]
            try:
                await asyncio.to_thread(_move_slot, redis_cluster, slot, target)
                # Redis unsubscribes the channel where the slot left (a `sunsubscribe` push);
                # the gateway reads the slot map again and subscribes on the new master.
                await eventually(
                    lambda: user in sub.heard.resubscribed, "the resubscription", within=20
                )
                assert _subscribers_on(target, channel) == 1
                assert _subscribers_on(home, channel) == 0
                await sub.delivered(user, "a notification after the move")
            finally:
                await asyncio.to_thread(_move_slot, redis_cluster, slot, home)  # as it was
            await eventually(lambda: _subscribers_on(home, channel) == 1, "back home", within=20)
            await sub.delivered(user, "a notification once the slot is back")

    asyncio.run(asyncio.wait_for(scenario(), 150))
    redis_cluster.wait_healthy(timeout_s=60)


def test_a_subscription_sent_to_a_slots_former_master_is_moved_and_sent_again_to_its_new_one(
    redis_cluster: LocalRedisCluster, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    user = "latecomer"

    async def scenario() -> None:
        async with subscribed(redis_cluster, unique) as sub:
            await sub.follow("someone")  # the subscriber has read the slot map
            channel = sub.keys.notify(user)
            slot = redis_cluster.keyslot(channel)
            home = redis_cluster.master_of(slot=slot)
            others = {redis_cluster.master_of(slot=s) for s in (0, 8000, 16383)} - {home}
            target = sorted(others, key=lambda n: n.port)[0]
            # Nobody here follows that slot, so nothing tells the subscriber it moved: its map
            # still names `home`, whose answer to the SSUBSCRIBE is MOVED.
            await asyncio.to_thread(_move_slot, redis_cluster, slot, target)
            try:
                with caplog.at_level(logging.WARNING, "eventbridge.gateway.notifications"):
                    await sub.follow(user)
                assert any("MovedError" in getattr(r, "reason", "") for r in caplog.records)
                assert _subscribers_on(target, channel) == 1
                await sub.delivered(user, "a notification from the slot's new master")
            finally:
                await asyncio.to_thread(_move_slot, redis_cluster, slot, home)

    asyncio.run(asyncio.wait_for(scenario(), 150))
    redis_cluster.wait_healthy(timeout_s=60)


def test_a_killed_master_is_followed_to_its_promoted_replica(
    redis_cluster: LocalRedisCluster, unique: str
) -> None:
    user = "survivor"

    async def scenario() -> LocalClusterNode:
        async with subscribed(redis_cluster, unique) as sub:
            channel = sub.keys.notify(user)
            master = redis_cluster.master_of(channel)
            [replica] = redis_cluster.replicas_of(master)
            bystander = next(  # a user whose slot another master serves: never disturbed
                f"b{i}"
                for i in range(10_000)
                if redis_cluster.master_of(slot=redis_cluster.keyslot(sub.keys.notify(f"b{i}")))
                is not master
            )
            await sub.follow(user)
            await sub.follow(bystander)
            await sub.delivered(user, "a notification before the kill")
            sub.heard.resubscribed.clear()
            redis_cluster.kill(master)
            await asyncio.to_thread(redis_cluster.wait_serving, 30)
            await eventually(
                lambda: user in sub.heard.resubscribed, "the resubscription", within=30
            )
            assert bystander not in sub.heard.resubscribed
            assert _subscribers_on(replica, channel) == 1
            await sub.delivered(user, "a notification from the promoted replica")
            await sub.delivered(bystander, "the bystander's notification")
            return master

    killed = asyncio.run(asyncio.wait_for(scenario(), 150))
    redis_cluster.restart(killed)
    redis_cluster.wait_healthy(timeout_s=60)
