"""What each Redis master says of its replicas (INFO replication), for the bridge's readiness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.redis.client import LIBRARY_ERRORS
from adapters.redis.settings import RedisSettings

RECHECK_S = 1.0
TIMEOUT_S = 2.0
_ASKED_ERRORS: tuple[type[BaseException], ...] = (*LIBRARY_ERRORS, TimeoutError)


@dataclass(frozen=True, slots=True)
class MasterReplication:
    """One master (a single node, or each master of a Cluster): its replicas that are online,
    how many bytes of its replication stream the furthest of them has not acknowledged, and
    the longest time since one acknowledged (`lag`, s); `error` when it did not answer."""

    node: str
    replicas_online: int | None = None
    behind_bytes: int | None = None
    lag_s: int | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "node": self.node,
            "replicas_online": self.replicas_online,
            "behind_bytes": self.behind_bytes,
            "lag_s": self.lag_s,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


def _fields(reply: Any) -> dict[str, Any]:
    """INFO's answer as a dict, whether redis-py parsed it already or not."""
    if isinstance(reply, dict):
        return reply
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    out: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or line.startswith("#"):
            continue
        if "=" in value:
            out[key] = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
        else:
            out[key] = value
    return out


def master_state(node: str, reply: Any) -> MasterReplication:
    """A master's INFO replication, reduced to what readiness reports."""
    info = _fields(reply)
    offset = int(info.get("master_repl_offset", 0))
    online = [
        v
        for k, v in info.items()
        if k.startswith("slave") and k[5:].isdigit() and isinstance(v, dict)
        if v.get("state") == "online"
    ]
    behind = [max(offset - int(v.get("offset", 0)), 0) for v in online]
    lags = [int(v.get("lag", 0)) for v in online]
    return MasterReplication(
        node,
        replicas_online=len(online),
        behind_bytes=max(behind) if behind else None,
        lag_s=max(lags) if lags else None,
    )


async def read_masters(client: Any, settings: RedisSettings) -> list[MasterReplication]:
    """INFO replication of the URL's node, or of every master of the Cluster."""
    if not settings.cluster:
        kwargs = client.connection_pool.connection_kwargs
        name = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        return [await _asked(name, client.execute_command("INFO", "replication"))]
    await client.initialize()
    masters = sorted(client.get_primaries(), key=lambda n: n.name)
    return list(
        await asyncio.gather(
            *(_asked(n.name, n.execute_command("INFO", "replication")) for n in masters)
        )
    )


async def _asked(name: str, call: Any) -> MasterReplication:
    try:
        return master_state(name, await asyncio.wait_for(call, TIMEOUT_S))
    except _ASKED_ERRORS as exc:
        return MasterReplication(name, error=f"{type(exc).__name__}: {str(exc)[:200]}")


class ReplicationWatch:
    """For readiness: the masters' replication, read again at most every `every_s`."""

    def __init__(
        self,
        client: Any,
        settings: RedisSettings,
        *,
        every_s: float = RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._every_s = every_s
        self._clock = clock
        self._read_at: float | None = None
        self._masters: list[MasterReplication] = []

    @property
    def min_replicas(self) -> int:
        return self._settings.min_replicas

    @property
    def timeout_ms(self) -> int:
        return self._settings.replica_timeout_ms

    async def masters(self) -> list[MasterReplication]:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._every_s:
            self._read_at = now
            try:
                self._masters = await read_masters(self._client, self._settings)
            except LIBRARY_ERRORS as exc:  # the Cluster's slot table could not be read
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
                self._masters = [MasterReplication("cluster", error=error)]
        return self._masters
