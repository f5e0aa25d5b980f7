"""RedisStreamStore: the bridge's writes of the Redis contract, a whole batch per round trip."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from redis import exceptions as rx

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from adapters.redis.scripts import PUBLISH, Script, pack_event
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
        positions: dict[str, list[int]] = {}  # per user, where its messages are in the batch
        for index, message in enumerate(messages):
            by_user.setdefault(message.user_id, []).append(message)
            positions.setdefault(message.user_id, []).append(index)
        owners = {m.session_id: m.user_id for m in messages if m.teaches_owner}
        with store_errors():
            replies = await self._send(self._calls(by_user, owners))
        # Replies list entry ids per user in by_user's order; bring them back to message order
        # by position, never by event id: a producer duplicate inside one batch is two messages
        # with one event id, of which only the first is written.
        in_user_order = [i for user_positions in positions.values() for i in user_positions]
        stream_ids = [sid.decode() for reply in replies for sid in reply]
        ids = [""] * len(messages)
        for index, stream_id in zip(in_user_order, stream_ids, strict=True):
            ids[index] = stream_id
        return [
            PublishResult(m.event_id, sid, sid == "") for m, sid in zip(messages, ids, strict=True)
        ]

    def _calls(
        self, by_user: dict[str, list[SseMessage]], owners: dict[str, str]
    ) -> list[tuple[list[str], list[Any]]]:
        """One script call for the whole batch on a single node; per user (slot) on a Cluster."""
        if not self._settings.cluster:
            return [self._call(by_user, owners)]
        return [self._call({u: ms}, {}) for u, ms in by_user.items()] + [
            self._call({}, {session: user}) for session, user in owners.items()
        ]

    def _call(
        self, by_user: dict[str, list[SseMessage]], owners: dict[str, str]
    ) -> tuple[list[str], list[Any]]:
        s, k = self._settings, self._keys
        keys: list[str] = []
        args: list[Any] = [
            s.stream_maxlen,
            s.channel_ttl,
            s.dedup_window,
            s.owner_ttl_s,
            len(by_user),
            len(owners),
        ]
        for user, user_messages in by_user.items():
            keys += (k.stream(user), k.ids(user))
            args += (len(user_messages), k.notify(user))
            args += (
                pack_event(
                    m.event_id,
                    m.event_type,
                    m.session_id,
                    m.trace.get("traceparent", ""),
                    m.data,
                )
                for m in user_messages
            )
        for session_id, user_id in owners.items():
            keys.append(k.owner(session_id))
            args.append(user_id)
        return keys, args

    async def _send(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        for attempt in (1, 2):
            pipe = self._client.pipeline(transaction=False)
            for keys, args in calls:
                self._script.queue(pipe, keys, args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, rx.NoScriptError) for r in replies):
                # A restarted Redis forgot the script; the batch is idempotent, so send it again.
                await self._script.load(self._client)
                continue
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies
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
