"""RedisStreamStore: the bridge's writes of the Redis contract, a whole batch per round trip."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
        owners: dict[str, str] = {}
        for m in messages:
            if m.teaches_owner:
                owners.setdefault(m.session_id, m.user_id)  # the first in the batch wins
        with store_errors():
            replies = await self._send(self._calls(by_user, owners))
        # The replies hold the entry ids per user in by_user's order, then what each owner key
        # held before. Entry ids go back to message order by position, never by event id: a
        # producer duplicate inside one batch is two messages with one event id, and only the
        # first of them is written.
        in_user_order = [i for user_positions in positions.values() for i in user_positions]
        answers = [value.decode("utf-8", "replace") for reply in replies for value in reply]
        ids = [""] * len(messages)
        for index, stream_id in zip(in_user_order, answers, strict=False):
            ids[index] = stream_id
        befores = answers[len(in_user_order) :]
        held = {s: before or u for (s, u), before in zip(owners.items(), befores, strict=True)}
        return [
            PublishResult(
                m.event_id, sid, sid == "", held[m.session_id] if m.teaches_owner else None
            )
            for m, sid in zip(messages, ids, strict=True)
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

    async def owners(
        self, session_ids: Collection[str], claims: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """One pipelined round trip: GET per session, `SET NX GET EX` per claim. Each command
        has one key, so a Cluster pipeline sends each to its slot's node."""
        claims = claims or {}
        wanted = [s for s in session_ids if s not in claims]
        if not wanted and not claims:
            return {}
        ttl = self._settings.owner_ttl_s
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            for session_id in wanted:
                pipe.get(self._keys.owner(session_id))
            for session_id, user_id in claims.items():
                pipe.set(self._keys.owner(session_id), user_id, nx=True, get=True, ex=ttl)
            values = await pipe.execute()
        asked = [*wanted, *claims]
        # A value that is not UTF-8 (written by something else) is kept, replaced: the filter
        # then refuses it as an owner that is no valid user id, instead of the batch failing.
        return {
            s: v.decode("utf-8", "replace")
            for s, v in zip(asked, values, strict=True)
            if v is not None
        }

    async def ping(self) -> None:
        with store_errors():
            await self._client.ping()
