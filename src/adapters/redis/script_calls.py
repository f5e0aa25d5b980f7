"""Sending the publish script's calls: one round trip per node, then WAIT on the same connection.

A Redis `WAIT n timeout` counts the replicas that acknowledged every write *of its own
connection*, so it must follow the writes on the connection that carried them. On a single
node the calls and the WAIT are one pipeline (redis-py sends a pipeline on one connection, and
sends all of it again on a new one after a connection error). On a Cluster each node's calls
and its WAIT go out with `ClusterNode.execute_pipeline`, which writes them on one connection of
that node and reads their replies, and never redirects or retries by itself: redis-py's cluster
pipeline would send a MOVED command again on another connection (outside the WAIT) and route a
retried WAIT by its (missing) key, so here a redirection, a connection error or a failover
fails the write instead, the slot table is read again, and the batch is retried whole (the
script is idempotent by event id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis import exceptions as rx
from redis.asyncio.cluster import ClusterNode, PipelineCommand

from adapters.redis.scripts import Script
from adapters.redis.settings import RedisSettings
from application.ports import ReplicasShort

Call = tuple[list[str], list[Any]]  # one script call: its keys and its arguments
# A Cluster node's error that means the slot table may be out of date (a redirection, a
# failover, a node gone): it is read again before the next send.
_STALE: tuple[type[BaseException], ...] = (
    rx.AskError,  # incl. MovedError
    rx.TryAgainError,
    rx.ClusterDownError,  # incl. MasterDownError
    rx.ReadOnlyError,
    rx.SlotNotCoveredError,
    rx.ConnectionError,
    rx.TimeoutError,
    OSError,
)


class ScriptCalls:
    """Sends script calls (`send`), each node's in one round trip on one connection; with
    `redis.min_replicas` > 0 followed there by `WAIT min_replicas replica_timeout_ms`. Returns
    the calls' replies in order, an error reply left in its place (the caller decides which
    it forgives); raises a connection error, a redirection, or ReplicasShort."""

    def __init__(self, client: Any, script: Script, settings: RedisSettings) -> None:
        self._client = client
        self._script = script
        self._cluster = settings.cluster
        self._wanted = settings.min_replicas
        self._timeout_ms = settings.replica_timeout_ms
        self._stale = False  # the Cluster's slot table must be read again before the next send

    async def send(self, calls: Sequence[Call]) -> list[Any]:
        if not calls:
            return []
        if self._cluster:
            return await self._on_cluster(calls)
        return await self._on_node(calls)

    def _wait(self) -> tuple[Any, ...]:
        return ("WAIT", self._wanted, self._timeout_ms)

    async def _on_node(self, calls: Sequence[Call]) -> list[Any]:
        """A single node: the calls and the WAIT in one pipeline (one connection)."""
        for attempt in (1, 2):
            pipe = self._client.pipeline(transaction=False)
            for keys, args in calls:
                self._script.queue(pipe, keys, args)
            if self._wanted:
                pipe.execute_command(*self._wait())
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, rx.NoScriptError) for r in replies):
                # A restarted Redis forgot the script; the batch is idempotent, so send it again.
                await self._script.load(self._client)
                continue
            if self._wanted:
                self._confirmed({self._client_name(): replies.pop()})
            return replies
        raise AssertionError("unreachable")

    def _client_name(self) -> str:
        kwargs = getattr(self._client, "connection_pool", None)
        found = getattr(kwargs, "connection_kwargs", {})
        return f"{found.get('host', '?')}:{found.get('port', '?')}"

    async def _on_cluster(self, calls: Sequence[Call]) -> list[Any]:
        """Per master that serves the calls' slots: its calls and its WAIT on one connection,
        all masters at once."""
        client = self._client
        if self._stale:
            await client.nodes_manager.initialize()  # CLUSTER SLOTS again, from a node that answers
            self._stale = False
        await client.initialize()  # once: the slot table (a no-op after)
        by_node: dict[str, tuple[ClusterNode, list[int]]] = {}
        try:
            for index, (keys, _) in enumerate(calls):
                node = client.get_node_from_key(keys[0])  # every key of a call shares a slot
                by_node.setdefault(node.name, (node, []))[1].append(index)
        except _STALE:
            self._stale = True
            raise
        # Every node's answer, also when one fails: a retry never overlaps this attempt.
        answers = await asyncio.gather(
            *(self._pipelined(node, [calls[i] for i in at]) for node, at in by_node.values()),
            return_exceptions=True,
        )
        replies: list[Any] = [None] * len(calls)
        waited: dict[str, Any] = {}
        for (name, (_, at)), answer in zip(by_node.items(), answers, strict=True):
            if isinstance(answer, BaseException):
                self._stale = self._stale or isinstance(answer, _STALE)
                raise answer
            if self._wanted:
                waited[name] = answer.pop()
                self._stale = self._stale or isinstance(waited[name], _STALE)
            for index, reply in zip(at, answer, strict=True):
                if isinstance(reply, _STALE):
                    self._stale = True  # the slot moved (a failover): fail, read it again
                    raise reply
                replies[index] = reply
        if self._wanted:
            self._confirmed(waited)
        return replies

    async def _pipelined(self, node: ClusterNode, calls: Sequence[Call]) -> list[Any]:
        """One node's calls (and WAIT) in one write on one of its connections; their replies
        (errors as values). A node that forgot the script loads it and gets all of it again."""
        for attempt in (1, 2):
            commands = [
                PipelineCommand(i, "EVALSHA", self._script.sha, len(keys), *keys, *args)
                for i, (keys, args) in enumerate(calls)
            ]
            if self._wanted:
                commands.append(PipelineCommand(len(calls), *self._wait()))
            await node.execute_pipeline(commands)
            replies = [c.result for c in commands]
            if attempt == 1 and any(isinstance(r, rx.NoScriptError) for r in replies):
                await node.execute_command("SCRIPT", "LOAD", self._script.source)
                continue
            return replies
        raise AssertionError("unreachable")

    def _confirmed(self, waited: dict[str, Any]) -> None:
        """Every node's WAIT counted at least `min_replicas` replicas, or ReplicasShort."""
        counts: dict[str, int] = {}
        for name, reply in waited.items():
            if isinstance(reply, Exception):
                raise reply  # e.g. WAIT refused (a replica answered): the write is not known
            counts[name] = int(reply)
        fewest = min(counts.values())
        if fewest < self._wanted:
            short = ", ".join(f"{n}: {c}" for n, c in sorted(counts.items()) if c < self._wanted)
            raise ReplicasShort(
                f"Redis replicas short: WAIT {self._wanted} {self._timeout_ms} confirmed"
                f" fewer replicas ({short})",
                wanted=self._wanted,
                acked=fewest,
            )
