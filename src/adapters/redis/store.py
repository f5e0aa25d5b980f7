"""RedisStreamStore: the bridge's writes of the Redis contract, a whole batch per round trip."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from redis import exceptions as rx

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from adapters.redis.scripts import PUBLISH, Script
from adapters.redis.settings import RedisSettings
from application.ports import PublishResult
from domain.model import SseMessage


class RedisStreamStore:
    """StreamStore over redis-py asyncio (single node or Cluster); see docs/redis-contract.md."""

    def __init__(self, *, client: Any, settings: RedisSettings) -> None:
        self._client = client
        self._settings = settings
        self._keys = RedisKeys(settings.sse_prefix, settings.session_prefix, settings.ticket_prefix)
        self._script = Script(PUBLISH)

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]:
        if not messages:
            return []
        by_user: dict[str, list[SseMessage]] = {}
        for message in messages:
            by_user.setdefault(message.user_id, []).append(message)
        with store_errors():
            replies = await self._send(by_user, messages)
        ids: dict[str, str] = {}
        for user_messages, reply in zip(by_user.values(), replies, strict=False):
            for message, stream_id in zip(user_messages, reply, strict=True):
                ids[message.event_id] = (
                    stream_id.decode() if isinstance(stream_id, bytes) else stream_id
                )
        return [PublishResult(m.event_id, ids[m.event_id], ids[m.event_id] == "") for m in messages]

    async def _send(
        self, by_user: dict[str, list[SseMessage]], messages: Sequence[SseMessage]
    ) -> list[Any]:
        for attempt in (1, 2):
            pipe = self._client.pipeline(transaction=False)
            s = self._settings
            for user, user_messages in by_user.items():
                args: list[Any] = [
                    s.stream_maxlen,
                    s.channel_ttl,
                    s.dedup_window,
                    self._keys.notify(user),
                ]
                for m in user_messages:
                    args += (
                        m.event_id,
                        m.event_type,
                        m.session_id,
                        m.data,
                        m.trace.get("traceparent", ""),
                    )
                self._script.queue(pipe, [self._keys.stream(user), self._keys.ids(user)], args)
            owners = {m.session_id: m.user_id for m in messages if m.teaches_owner}
            for session_id, user_id in owners.items():
                key = self._keys.owner(session_id)
                pipe.set(key, user_id, nx=True, ex=s.owner_ttl_s)
                pipe.expire(key, s.owner_ttl_s)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, rx.NoScriptError) for r in replies):
                # A restarted Redis forgot the script; the batch is idempotent, so send it again.
                await self._script.load(self._client)
                continue
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies[: len(by_user)]
        raise AssertionError("unreachable")

    async def owners(self, session_ids: Collection[str]) -> dict[str, str]:
        if not session_ids:
            return {}
        wanted = list(session_ids)
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            for session_id in wanted:
                pipe.get(self._keys.owner(session_id))
            values = await pipe.execute()
        return {s: v.decode() for s, v in zip(wanted, values, strict=True) if v is not None}

    async def ping(self) -> None:
        with store_errors():
            await self._client.ping()
