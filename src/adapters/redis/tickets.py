"""RedisTickets: single-use SSE tickets, `sse:ticket:{t}` → {"user_id", "exp"} with a TTL."""

from __future__ import annotations

import math
import secrets
from typing import Any

import orjson

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from domain.gateway.credentials import Principal, expiry_of


class RedisTickets:
    """The Tickets port: `SET EX` to issue, `GET` to peek, `GETDEL` to redeem (atomic)."""

    def __init__(self, *, client: Any, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    async def issue(self, principal: Principal, ttl_s: int) -> str:
        ticket = secrets.token_urlsafe(32)
        value = orjson.dumps({"user_id": principal.user_id, "exp": principal.expires_at})
        with store_errors():
            await self._client.set(self._keys.ticket(ticket), value, ex=ttl_s)
        return ticket

    async def peek(self, ticket: str) -> Principal | None:
        with store_errors():
            raw = await self._client.get(self._keys.ticket(ticket))
        return _principal(raw)

    async def redeem(self, ticket: str) -> Principal | None:
        with store_errors():
            raw = await self._client.getdel(self._keys.ticket(ticket))
        return _principal(raw)


def _principal(raw: bytes | None) -> Principal | None:
    if raw is None:
        return None
    value = orjson.loads(raw)
    expires_at = expiry_of(value["exp"])
    return Principal(str(value["user_id"]), -math.inf if expires_at is None else expires_at)
