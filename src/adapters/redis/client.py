"""Creating and closing the redis-py asyncio client, and translating its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from adapters.redis.settings import RedisSettings
from application.ports import StoreUnavailable

# Errors that say "Redis is not available right now": the breaker counts these.
_UNAVAILABLE = (rx.ConnectionError, rx.TimeoutError, OSError)
_RETRIABLE_REPLIES = ("LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "OOM")


def make_client(settings: RedisSettings) -> Any:
    """A client for a single node or a Cluster; one quick retry, then the error surfaces."""
    common: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.connect_timeout_s,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        "health_check_interval": 30,
    }
    if settings.cluster:
        return RedisCluster.from_url(settings.url, **common)
    return Redis.from_url(settings.url, max_connections=settings.max_connections, **common)


@asynccontextmanager
async def open_client(settings: RedisSettings) -> AsyncIterator[Any]:
    """The container's Redis resource: created on entry, closed with aclose() on exit."""
    client = make_client(settings)
    try:
        yield client
    finally:
        await client.aclose()


def translate(exc: BaseException) -> StoreUnavailable:
    """Map a redis-py error to the port's error, keeping the cause."""
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(f"Redis unavailable: {type(exc).__name__}: {exc}", retriable=True)
    message = str(exc)
    retriable = message.startswith(_RETRIABLE_REPLIES)
    return StoreUnavailable(f"Redis refused: {message}", retriable=retriable)


@contextmanager
def store_errors() -> Iterator[None]:
    """Re-raise any redis-py error inside the block as StoreUnavailable (cause kept)."""
    try:
        yield
    except (rx.RedisError, *_UNAVAILABLE) as exc:
        raise translate(exc) from exc
