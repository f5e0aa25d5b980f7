"""Creating and closing the redis-py asyncio client, and translating its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from adapters.redis.settings import RedisSettings
from application.ports import StoreUnavailable

# Everything redis-py raises: its error hierarchy has two roots (`RedisError`, and the Cluster
# client's `RedisClusterException`, which is *not* a RedisError), a few stand-alone classes,
# and the socket errors (OSError, which includes TimeoutError = asyncio.TimeoutError on 3.11).
# tests/unit/test_redis_errors.py fails when an upgrade adds a class this tuple misses.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    rx.RedisError,
    rx.RedisClusterException,
    rx.ChildDeadlockedError,
    rx.IncorrectPolicyType,
    OSError,
)

# Never worth retrying: the same call fails the same way (a bad argument, a script or type
# error, a permission). Checked before the retriable classes, as some inherit from them.
_PERMANENT: tuple[type[BaseException], ...] = (
    rx.AuthenticationError,
    rx.AuthorizationError,
    rx.AuthenticationWrongNumberOfArgsError,
    rx.NoPermissionError,
    rx.ClusterCrossSlotError,
    rx.CrossSlotTransactionError,
    rx.InvalidPipelineStack,
    rx.ExecAbortError,
    rx.ModuleError,
    rx.DataError,
    rx.PubSubError,
    rx.LockError,
    rx.ChildDeadlockedError,
    rx.IncorrectPolicyType,
)
# Redis is (for now) unreachable, busy, failing over or resharding: trying again may succeed.
_TRANSIENT: tuple[type[BaseException], ...] = (
    rx.ConnectionError,  # incl. BusyLoadingError, MaxConnectionsError, sentinel lookups
    rx.TimeoutError,
    rx.InvalidResponse,  # a garbled reply: the connection is dropped and made again
    rx.ClusterError,  # incl. ClusterDownError, MasterDownError
    rx.AskError,  # incl. MovedError
    rx.TryAgainError,
    rx.ReadOnlyError,
    rx.OutOfMemoryError,
    rx.NoScriptError,  # a restarted Redis forgot its scripts; they are loaded again
    rx.NoSuchFieldsetError,
    rx.WatchError,
    rx.SlotNotCoveredError,
    OSError,
)
# A plain ResponseError is retriable only when the server says it is a passing state.
_RETRIABLE_REPLIES = (
    "LOADING",
    "READONLY",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "OOM",
    "BUSY",
    "MOVED",
    "ASK",
    "NOREPLICAS",
)
# A bare RedisClusterException is mostly "cannot be connected" / "slots not covered" (transient);
# these messages mark the ones that are a caller's mistake instead.
_CLUSTER_USAGE = ("Argument", "Invalid args", "No way to dispatch", "must map", "not supported")


ClientRole = Literal["store", "gateway"]


def make_client(settings: RedisSettings, role: ClientRole = "store") -> Any:
    """A client for a single node or a Cluster, with one quick retry before an error surfaces.

    - `store` (the bridge): a full pool fails at once, so the breaker sees the outage;
    - `gateway`: a burst (thousands of connections re-reading after a resubscription) waits up
      to 10 s for a pooled connection instead of failing with "Too many connections".

    (The gateway's notification subscriber has connections of its own: node_connections.)
    """
    timeouts: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.connect_timeout_s,
        "health_check_interval": 30,
    }
    common = {**timeouts, "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1)}
    if settings.cluster:
        return RedisCluster.from_url(settings.url, **common)
    if role == "gateway":
        pool = BlockingConnectionPool.from_url(
            settings.url, max_connections=settings.max_connections, timeout=10, **common
        )
        return Redis.from_pool(pool)
    return Redis.from_url(settings.url, max_connections=settings.max_connections, **common)


@asynccontextmanager
async def open_client(settings: RedisSettings, role: ClientRole = "store") -> AsyncIterator[Any]:
    """The container's Redis resource: created on entry, closed with aclose() on exit."""
    client = make_client(settings, role)
    try:
        yield client
    finally:
        await client.aclose()


def is_retriable(exc: BaseException) -> bool:
    """Whether the same call may succeed later (outage, failover, resharding, loading)."""
    if isinstance(exc, _PERMANENT):
        return False
    if isinstance(exc, _TRANSIENT):
        return True
    message = str(exc)
    if isinstance(exc, rx.RedisClusterException):
        return not any(marker in message for marker in _CLUSTER_USAGE)
    return message.startswith(_RETRIABLE_REPLIES)


def translate(exc: BaseException) -> StoreUnavailable:
    """Map a redis-py (or socket) error to the port's error; the caller keeps the cause."""
    unreachable = isinstance(exc, (rx.ConnectionError, rx.TimeoutError, OSError))
    verb = "unavailable" if unreachable else "refused"
    message = f"Redis {verb}: {type(exc).__name__}: {exc}"
    return StoreUnavailable(message, retriable=is_retriable(exc))


@contextmanager
def store_errors() -> Iterator[None]:
    """Re-raise any redis-py error inside the block as StoreUnavailable (cause kept).

    CancelledError is a BaseException and passes through untouched.
    """
    try:
        yield
    except LIBRARY_ERRORS as exc:
        raise translate(exc) from exc
