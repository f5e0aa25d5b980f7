"""RedisStreamStore: the bridge's writes of the Redis contract, a whole batch per round trip."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from redis import exceptions as rx
from redis.crc import key_slot

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from adapters.redis.script_calls import ScriptCalls
from adapters.redis.scripts import PUBLISH, Script, pack_event
from adapters.redis.settings import RedisSettings
from application.ports import OwnerAnswer, PublishResult
from domain.model import SseMessage


class RedisStreamStore:
    """StreamStore over redis-py asyncio (single node or Cluster); see docs/redis-contract.md."""

    def __init__(self, *, client: Any, settings: RedisSettings) -> None:
        self._client = client
        self._settings = settings
        self._keys = RedisKeys(settings.sse_prefix, settings.session_prefix, settings.ticket_prefix)
        self._calls = ScriptCalls(client, Script(PUBLISH), settings)

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]:
        """One script call for the batch (one per hash slot on a Cluster). A user whose
        keys Redis refuses to write gets its messages back `refused` instead of failing the
        batch for everyone, forever: the script answers "!" for a user key that holds another
        type (WRONGTYPE), and a call the ACL refuses for a key (NOPERM, checked before it runs,
        so nothing was written) is sent again one user at a time."""
        if not messages:
            return []
        by_user: dict[str, list[int]] = {}  # per user, where its messages are in the batch
        owners: dict[str, str] = {}
        for index, m in enumerate(messages):
            at = by_user.get(m.user_id)
            if at is None:
                by_user[m.user_id] = [index]
            else:
                at.append(index)
            if m.teaches_owner and m.session_id not in owners:
                owners[m.session_id] = m.user_id  # the first in the batch wins
        groups = [[messages[i] for i in at] for at in by_user.values()]
        with store_errors():
            if self._settings.cluster:
                per_user, answers = await self._by_slot(groups, owners)
            else:
                per_user, answers = await self._together(groups, owners)
        held = {
            s: before or u
            for (s, u), before in zip(owners.items(), answers, strict=True)
            if before is not None and _refused(before) is None  # else: not known
        }
        # Entry ids go back to message order by position, never by event id: a producer
        # duplicate inside one batch is two messages with one event id, only the first written.
        results: list[PublishResult | None] = [None] * len(messages)
        for at, reply in zip(by_user.values(), per_user, strict=True):
            if isinstance(reply, str):  # Redis refused the call for this user's keys
                for index in at:
                    results[index] = PublishResult(messages[index].event_id, "", False, None, reply)
                continue
            for index, entry in zip(at, reply, strict=True):
                m = messages[index]
                if entry[:1] == "!":
                    results[index] = PublishResult(m.event_id, "", False, None, _refused(entry))
                    continue
                owner = held.get(m.session_id) if m.teaches_owner else None
                results[index] = PublishResult(m.event_id, entry, entry == "", owner)
        return cast(list[PublishResult], results)  # every index is some user's

    async def _together(
        self, groups: list[list[SseMessage]], owners: dict[str, str]
    ) -> tuple[list[list[str] | str], list[str | None]]:
        """One call for everything; if Redis refuses it for a user's keys, the users apart."""
        [reply] = await self._send([self._call(groups, owners)])
        if _refusal(reply) is not None:
            return await self._apart(groups, owners)
        return _split(_decoded(reply), [len(g) for g in groups], len(owners))

    async def _by_slot(
        self, groups: list[list[SseMessage]], owners: dict[str, str]
    ) -> tuple[list[list[str] | str], list[str | None]]:
        """A Cluster: one call per hash slot, for the users and owner keys in it (a script's
        keys must share a slot), pipelined per master; a slot whose call Redis refuses (an
        ACL NOPERM on a key, checked before it runs) has its users and owners sent apart."""
        keys = self._keys
        slots: dict[int, tuple[list[int], list[str]]] = {}
        for index, group in enumerate(groups):
            slot = key_slot(keys.stream(group[0].user_id).encode())
            slots.setdefault(slot, ([], []))[0].append(index)
        for session in owners:
            slots.setdefault(key_slot(keys.owner(session).encode()), ([], []))[1].append(session)
        calls = [
            self._call([groups[i] for i in users], {s: owners[s] for s in sessions})
            for users, sessions in slots.values()
        ]
        replies = await self._send(calls)
        per_user: list[list[str] | str | None] = [None] * len(groups)
        answers: dict[str, str | None] = {}
        again_users: list[int] = []
        again_owners: list[str] = []
        for (users, sessions), reply in zip(slots.values(), replies, strict=True):
            if _refusal(reply) is not None:
                again_users += users
                again_owners += sessions
                continue
            values = _split(_decoded(reply), [len(groups[i]) for i in users], len(sessions))
            for index, value in zip(users, values[0], strict=True):
                per_user[index] = value
            answers.update(zip(sessions, values[1], strict=True))
        if again_users or again_owners:
            apart_users, apart_answers = await self._apart(
                [groups[i] for i in again_users], {s: owners[s] for s in again_owners}
            )
            for index, value in zip(again_users, apart_users, strict=True):
                per_user[index] = value
            answers.update(zip(again_owners, apart_answers, strict=True))
        return cast(list[list[str] | str], per_user), [answers[s] for s in owners]

    async def _apart(
        self, groups: list[list[SseMessage]], owners: dict[str, str]
    ) -> tuple[list[list[str] | str], list[str | None]]:
        """One call per user and one per owner key (each in one slot): the entry ids per user
        (or why Redis refused that user's keys), and what each owner key held before."""
        calls = [self._call([group], {}) for group in groups]
        calls += [self._call([], {session: user}) for session, user in owners.items()]
        replies = await self._send(calls)
        per_user: list[list[str] | str] = []
        for reply in replies[: len(groups)]:
            refusal = _refusal(reply)
            per_user.append(refusal if refusal is not None else _decoded(reply))
        answers: list[str | None] = [
            None if _refusal(reply) is not None else _decoded(reply)[0]
            for reply in replies[len(groups) :]
        ]
        return per_user, answers

    def _call(
        self, groups: list[list[SseMessage]], owners: dict[str, str]
    ) -> tuple[list[str], list[Any]]:
        """The keys and arguments of one script call: each group is one user's messages."""
        s, k = self._settings, self._keys
        keys: list[str] = []
        args: list[Any] = [
            s.stream_maxlen,
            s.channel_ttl,
            s.dedup_window,
            s.owner_ttl_s,
            len(groups),
            len(owners),
        ]
        for user_messages in groups:
            user = user_messages[0].user_id
            keys += (k.stream(user), k.ids(user))
            args += (len(user_messages), k.notify(user))
            args += (
                pack_event(
                    m.event_id,
                    m.event_type,
                    m.session_id,
                    m.traceparent,
                    m.data,
                )
                for m in user_messages
            )
        for session_id, user_id in owners.items():
            keys.append(k.owner(session_id))
            args.append(user_id)
        return keys, args

    async def _send(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """The replies of the script calls (one round trip per node, each node's writes then
        confirmed by WAIT when `min_replicas`); a refusal of a user's keys is left in its
        place, any other error is raised (the batch is then retried whole)."""
        replies = await self._calls.send(calls)
        for reply in replies:
            if isinstance(reply, Exception) and _refusal(reply) is None:
                raise reply
        return replies

    async def owners(
        self, session_ids: Collection[str], claims: Mapping[str, str] | None = None
    ) -> OwnerAnswer:
        """One pipelined round trip: GET per session, `SET NX GET EX` per claim. Each command
        has one key, so a Cluster pipeline sends each to its slot's node. A key Redis refuses
        (WRONGTYPE: something else wrote it; NOPERM for that key) is that session's refusal,
        the rest is answered; any other error fails the call (StoreUnavailable)."""
        claims = claims or {}
        wanted = [s for s in session_ids if s not in claims]
        if not wanted and not claims:
            return OwnerAnswer()
        ttl = self._settings.owner_ttl_s
        answer = OwnerAnswer()
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            for session_id in wanted:
                pipe.get(self._keys.owner(session_id))
            for session_id, user_id in claims.items():
                pipe.set(self._keys.owner(session_id), user_id, nx=True, get=True, ex=ttl)
            values = await pipe.execute(raise_on_error=False)
            for session_id, value in zip([*wanted, *claims], values, strict=True):
                if isinstance(value, Exception):
                    refusal = _refusal(value)
                    if refusal is None:
                        raise value
                    answer.refused[session_id] = refusal
                elif value is not None:
                    # A value that is not UTF-8 (written by something else) is kept, replaced:
                    # the filter refuses it as an owner that is no valid user id.
                    answer[session_id] = value.decode("utf-8", "replace")
        return answer

    async def ping(self) -> None:
        with store_errors():
            await self._client.ping()


def _refusal(reply: Any) -> str | None:
    """Why Redis refuses to write one user's keys, the same way each time (never a sign that
    Redis is unavailable): something else holds the key, or the ACL forbids that key."""
    if not isinstance(reply, rx.ResponseError) or isinstance(reply, rx.NoScriptError):
        return None
    text = str(reply)
    # redis-py makes NOPERM a NoPermissionError and drops the code from the message.
    acl = isinstance(reply, rx.NoPermissionError) or text.startswith("NOPERM")
    if text.startswith("WRONGTYPE") or (acl and "key" in text):
        return f"Redis refused the write: {type(reply).__name__}: {text[:200]}"
    return None


def _refused(value: str) -> str | None:
    """The script's refusal of one user's keys or one owner key ("!" and why), else None."""
    return f"Redis refused the write: {value[1:201]}" if value.startswith("!") else None


def _decoded(reply: Any) -> list[str]:
    return [value.decode("utf-8", "replace") for value in reply]


def _split(
    values: list[str], sizes: list[int], owners: int
) -> tuple[list[list[str] | str], list[str | None]]:
    """One call's results: the entry ids of each user (`sizes` events each), then one
    answer per owner key."""
    per_user: list[list[str] | str] = []
    at = 0
    for size in sizes:
        per_user.append(values[at : at + size])
        at += size
    answers: list[str | None] = list(values[at : at + owners])
    return per_user, answers
