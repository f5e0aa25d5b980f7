"""A real RedisCluster client that cannot reach a cluster raises RedisClusterException (not a
RedisError); every adapter translates it, so the bridge's breaker and the gateway see an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from adapters.redis.client import open_client
from adapters.redis.keys import RedisKeys
from adapters.redis.leases import RedisLeases
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from adapters.redis.stream_reader import RedisStreamReader
from adapters.redis.tickets import RedisTickets
from application.ports import StoreUnavailable
from domain.gateway.credentials import Principal
from domain.gateway.leases import LeasePolicy
from domain.model import SseMessage
from simulator.processes import free_port
from simulator.services import Services

KEYS = RedisKeys()


def _message() -> SseMessage:
    data = orjson.dumps({"event_id": "e1", "event_type": "T", "session_id": "s"})
    return SseMessage(user_id="u1", session_id="s", event_id="e1", event_type="T", data=data)


def _calls(client: Any, settings: RedisSettings) -> dict[str, Callable[[], Awaitable[object]]]:
    store = RedisStreamStore(client=client, settings=settings)
    streams = RedisStreamReader(client=client, keys=KEYS)
    leases = RedisLeases(client=client, keys=KEYS, policy=LeasePolicy(limit=2, lease_s=30))
    tickets = RedisTickets(client=client, keys=KEYS)
    return {
        "bridge publish": lambda: store.publish([_message()]),
        "bridge ping": store.ping,
        "gateway read": lambda: streams.read_after("u1", "0-0", 10),
        "gateway lease": lambda: leases.acquire("u1", "c1", now=1_800_000_000.0),
        "gateway ticket": lambda: tickets.issue(Principal("u1", 4_000_000_000.0), 30),
    }


def _cluster_client_at(url: str) -> None:
    settings = RedisSettings(url=url, cluster=True, connect_timeout_s=0.5, socket_timeout_s=0.5)

    async def scenario() -> None:
        async with open_client(settings) as client:
            for name, call in _calls(client, settings).items():
                with pytest.raises(StoreUnavailable) as caught:
                    await call()
                assert caught.value.retriable, name
                assert type(caught.value.__cause__).__name__ == "RedisClusterException", name

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_cluster_client_at_a_dead_port_raises_store_unavailable_everywhere() -> None:
    _cluster_client_at(f"redis://127.0.0.1:{free_port()}/0")


def test_a_cluster_client_at_a_single_node_redis_raises_store_unavailable_everywhere(
    real_services: Services,
) -> None:
    _cluster_client_at(real_services.redis_url)
