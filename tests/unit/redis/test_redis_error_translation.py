"""Every error redis-py can raise leaves the adapters as StoreUnavailable, with the right flag."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
import redis.asyncio.client
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.sentinel
import redis.cluster
import redis.exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from adapters.redis.leases import RedisLeases
from adapters.redis.notifications import RedisNotifications
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from adapters.redis.stream_reader import RedisStreamReader
from adapters.redis.tickets import RedisTickets
from application.ports import StoreUnavailable
from domain.gateway.credentials import Principal
from domain.gateway.leases import LeasePolicy

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

# Each class redis-py defines, an instance as the library raises it, and whether trying again
# may succeed. A class missing here (a redis-py upgrade added one) fails the coverage test.
CASES: dict[type[BaseException], tuple[BaseException, bool]] = {
    rx.RedisError: (rx.RedisError("Cannot issue nested calls to MULTI"), False),
    rx.ConnectionError: (rx.ConnectionError("Error 111 connecting"), True),
    rx.TimeoutError: (rx.TimeoutError("Timeout reading from socket"), True),
    rx.AuthenticationError: (rx.AuthenticationError("invalid password"), False),
    rx.AuthorizationError: (rx.AuthorizationError("not authorized"), False),
    rx.BusyLoadingError: (rx.BusyLoadingError("Redis is loading the dataset"), True),
    rx.InvalidResponse: (rx.InvalidResponse("Protocol Error: b'x'"), True),
    rx.ResponseError: (rx.ResponseError("ERR wrong number of arguments"), False),
    rx.DataError: (rx.DataError("Invalid input of type: 'dict'"), False),
    rx.PubSubError: (rx.PubSubError("not subscribed"), False),
    rx.WatchError: (rx.WatchError("Watched variable changed."), True),
    rx.NoScriptError: (rx.NoScriptError("No matching script"), True),
    rx.OutOfMemoryError: (rx.OutOfMemoryError("command not allowed when used memory"), True),
    rx.ExecAbortError: (rx.ExecAbortError("Transaction discarded"), False),
    rx.ReadOnlyError: (rx.ReadOnlyError("You can't write against a read only replica."), True),
    rx.NoPermissionError: (rx.NoPermissionError("this user has no permissions"), False),
    rx.ModuleError: (rx.ModuleError("Error loading the extension."), False),
    rx.NoSuchFieldsetError: (rx.NoSuchFieldsetError("no such fieldset"), True),
    rx.LockError: (rx.LockError("Cannot release an unlocked lock"), False),
    rx.LockNotOwnedError: (rx.LockNotOwnedError("not owned"), False),
    rx.ChildDeadlockedError: (rx.ChildDeadlockedError("deadlocked after fork"), False),
    rx.AuthenticationWrongNumberOfArgsError: (
        rx.AuthenticationWrongNumberOfArgsError("wrong number of arguments for 'auth'"),
        False,
    ),
    rx.RedisClusterException: (
        rx.RedisClusterException("Redis Cluster cannot be connected. Please provide at least"),
        True,
    ),
    rx.ClusterError: (rx.ClusterError("TTL exhausted."), True),
    rx.ClusterDownError: (rx.ClusterDownError("The cluster is down"), True),
    rx.AskError: (rx.AskError("3999 127.0.0.1:6381"), True),
    rx.TryAgainError: (rx.TryAgainError("Multiple keys request during rehashing"), True),
    rx.ClusterCrossSlotError: (rx.ClusterCrossSlotError("Keys in request don't hash"), False),
    rx.MovedError: (rx.MovedError("3999 127.0.0.1:6381"), True),
    rx.MasterDownError: (rx.MasterDownError("Link with MASTER is down"), True),
    rx.SlotNotCoveredError: (rx.SlotNotCoveredError('Slot "12" is not covered'), True),
    rx.MaxConnectionsError: (rx.MaxConnectionsError("Too many connections"), True),
    rx.CrossSlotTransactionError: (rx.CrossSlotTransactionError("keys in different slots"), False),
    rx.InvalidPipelineStack: (rx.InvalidPipelineStack("unexpected response length"), False),
    rx.ExternalAuthProviderError: (rx.ExternalAuthProviderError("provider down"), True),
    rx.IncorrectPolicyType: (rx.IncorrectPolicyType("unknown policy"), False),
    redis.asyncio.sentinel.MasterNotFoundError: (
        redis.asyncio.sentinel.MasterNotFoundError("No master found for 'x'"),
        True,
    ),
    redis.asyncio.sentinel.SlaveNotFoundError: (
        redis.asyncio.sentinel.SlaveNotFoundError("No slave found for 'x'"),
        True,
    ),
    OSError: (OSError(104, "Connection reset by peer"), True),
    TimeoutError: (TimeoutError(), True),  # asyncio.TimeoutError on 3.11
}
# Replies and messages that decide the flag of a class that carries both kinds.
BY_MESSAGE: list[tuple[BaseException, bool]] = [
    (rx.ResponseError("LOADING Redis is loading the dataset in memory"), True),
    (rx.ResponseError("BUSY Redis is busy running a script"), True),
    (rx.ResponseError("NOREPLICAS Not enough good replicas to write"), True),
    (rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"), False),
    (rx.ResponseError("ERR Error running script (call to f_...): user_script:1"), False),
    (rx.RedisClusterException("All slots are not covered after query all startup_nodes."), True),
    (rx.RedisClusterException("Argument 'db' must be 0 or None in cluster mode"), False),
    (rx.RedisClusterException("EVAL - all keys must map to the same key slot"), False),
]
MODULES: list[ModuleType] = [
    rx,
    redis.cluster,
    redis.asyncio.cluster,
    redis.asyncio.client,
    redis.asyncio.connection,
    redis.asyncio.sentinel,
]


def _library_error_classes() -> Iterator[type[BaseException]]:
    for module in MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("redis"):
                yield obj


def test_every_error_class_redis_py_defines_has_a_decided_translation() -> None:
    found = set(_library_error_classes())
    assert found, "no redis-py exception classes found"
    missing = sorted(c.__qualname__ for c in found if c not in CASES)
    assert missing == [], f"redis-py errors without a decided translation: {missing}"


@pytest.mark.parametrize(("error", "retriable"), [*CASES.values(), *BY_MESSAGE], ids=repr)
def test_store_errors_raises_store_unavailable_with_the_cause_and_a_decided_flag(
    error: BaseException, retriable: bool
) -> None:
    with pytest.raises(StoreUnavailable) as caught, store_errors():
        raise error
    assert caught.value.__cause__ is error
    assert caught.value.retriable is retriable
    assert type(error).__name__ in str(caught.value)


def test_cancellation_and_our_own_bugs_are_not_translated() -> None:
    for error in (asyncio.CancelledError(), KeyError("ours")):
        with pytest.raises(type(error)), store_errors():
            raise error


def _client(error: BaseException) -> Any:
    """A redis-py client (spec'd) whose every command raises `error`, as the library would."""
    client = mock.Mock(spec=Redis)
    for command in ("get", "getdel", "set", "xrange", "xrevrange", "zrem", "ping"):
        getattr(client, command).side_effect = error
    pipe = mock.MagicMock(spec=Pipeline)
    pipe.__len__.return_value = 1
    pipe.execute.side_effect = error
    client.pipeline.return_value = pipe
    script = mock.AsyncMock(side_effect=error)
    client.register_script.return_value = script
    return client


KEYS = RedisKeys()
PRINCIPAL = Principal("u1", 4_000_000_000.0)
NOW = 1_800_000_000.0
Call = Callable[[Any], Awaitable[object]]
CALL_SITES: dict[str, Call] = {
    "streams.read_after": lambda c: _streams(c).read_after("u1", "1-0", 10),
    "streams.newest": lambda c: _streams(c).newest("u1", 5),
    "streams.resume_facts": lambda c: _streams(c).resume_facts("u1", (1, 0), 10),
    "streams.window_facts": lambda c: _streams(c).window_facts("u1", (1, 0), (5, 0)),
    "streams.last_ids": lambda c: _streams(c).last_ids(["u1"]),
    "streams.ping": lambda c: _streams(c).ping(),
    "leases.acquire": lambda c: _leases(c).acquire("u1", "c1", now=NOW),
    "leases.check": lambda c: _leases(c).check("u1", now=NOW),
    "leases.renew": lambda c: _leases(c).renew([("u1", "c1")], now=NOW),
    "leases.release": lambda c: _leases(c).release("u1", "c1"),
    "leases.release_all": lambda c: _leases(c).release_all([("u1", "c1")]),
    "tickets.issue": lambda c: RedisTickets(client=c, keys=KEYS).issue(PRINCIPAL, 30),
    "tickets.peek": lambda c: RedisTickets(client=c, keys=KEYS).peek("t" * 43),
    "tickets.redeem": lambda c: RedisTickets(client=c, keys=KEYS).redeem("t" * 43),
    "store.owners": lambda c: RedisStreamStore(client=c, settings=RedisSettings()).owners(["s"]),
    "store.ping": lambda c: RedisStreamStore(client=c, settings=RedisSettings()).ping(),
}


def _leases(client: Any) -> RedisLeases:
    return RedisLeases(client=client, keys=KEYS, policy=LeasePolicy(limit=2, lease_s=30))


def _streams(client: Any) -> RedisStreamReader:
    return RedisStreamReader(client=client, keys=KEYS)


@pytest.mark.parametrize("site", list(CALL_SITES))
@pytest.mark.parametrize(("error", "retriable"), list(CASES.values()), ids=repr)
def test_a_library_error_at_every_redis_call_site_leaves_as_store_unavailable(
    site: str, error: BaseException, retriable: bool
) -> None:
    async def call() -> None:
        await CALL_SITES[site](_client(error))

    with pytest.raises(StoreUnavailable) as caught:
        asyncio.run(call())
    assert caught.value.retriable is retriable


class _BrokenNodes:
    """A NodeConnector whose connections fail with `error` at `stage` (connect, or reading)."""

    seed = ("127.0.0.1", 6379)

    def __init__(self, error: BaseException, stage: str) -> None:
        self.error, self.stage = error, stage
        self.made: list[Any] = []
        self.again = asyncio.Event()

    def __call__(self, address: Any = None) -> Any:
        conn = mock.Mock(spec=redis.asyncio.connection.Connection)
        conn.connect = mock.AsyncMock(side_effect=self.error if self.stage == "connect" else None)
        conn.read_response = mock.AsyncMock(side_effect=self.error)
        conn.send_packed_command = mock.AsyncMock()
        conn.disconnect = mock.AsyncMock()
        self.made.append(conn)
        if len(self.made) == 3:
            self.again.set()
        return conn


@pytest.mark.parametrize("stage", ["connect", "read"])
@pytest.mark.parametrize(("error", "_retriable"), list(CASES.values()), ids=repr)
def test_the_subscriber_survives_any_library_error_and_connects_again(
    error: BaseException, _retriable: bool, stage: str
) -> None:
    nodes = _BrokenNodes(error, stage)
    notifications = RedisNotifications(connector=nodes, keys=KEYS, cluster=False)  # type: ignore[arg-type]
    resubscribed: list[str] = []
    notifications.follow("u1")

    async def scenario() -> None:
        run = notifications.run(notify=lambda *_: None, resubscribed=resubscribed.extend)
        task = asyncio.create_task(run)
        async with asyncio.timeout(10):
            await asyncio.wait(
                {task, asyncio.ensure_future(nodes.again.wait())}, return_when="FIRST_COMPLETED"
            )
        assert not task.done(), task.exception()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert resubscribed == []  # a subscription that never succeeded is never reported
    assert all(c.disconnect.await_count >= 1 for c in nodes.made[:2])
