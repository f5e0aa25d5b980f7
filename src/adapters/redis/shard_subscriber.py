"""ShardSubscriber: one node's sharded pub/sub connection, its batched commands and replies."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis import exceptions as rx

from adapters.redis.client import LIBRARY_ERRORS, store_errors, translate
from adapters.redis.node_connections import Address
from adapters.redis.slot_map import SlotMap
from application.cancelling import cancel_and_wait
from application.ports import StoreUnavailable


class ShardEvents(Protocol):
    """What a node's subscriber reports, from its reader task."""

    def message(self, channel: bytes, payload: bytes) -> None: ...

    def confirmed_on(self, node: ShardSubscriber, channel: bytes) -> None: ...

    def dropped(self, node: ShardSubscriber, channels: list[bytes], reason: str) -> None:
        """Channels wanted here that are not subscribed (any more): Redis unsubscribed them (a
        slot moved away) or refused the SSUBSCRIBE (MOVED, ASK, CLUSTERDOWN, ...)."""
        ...


@dataclass
class _Sent:
    """A command in flight: the reply kind it expects, one per channel (one for a PING)."""

    kind: bytes
    channels: set[bytes] = field(default_factory=set)


class ShardSubscriber:
    """One RESP2 connection in subscribed mode to one node. `send` writes every SSUBSCRIBE and
    SUNSUBSCRIBE of a change in one write (Redis answers each channel in order, asynchronously,
    so a storm of changes is one round trip, not one per user); `read` follows the replies
    until the connection fails. Once per `idle_s` a watchdog looks whether anything came: after
    a silent period it pings, and a ping still unanswered a period later is a dead connection."""

    def __init__(
        self,
        connection: Any,
        address: Address,
        events: ShardEvents,
        *,
        cluster: bool,
        chunk: int = 500,
        idle_s: float = 10.0,
    ) -> None:
        self.address = address
        self.channels: set[bytes] = set()  # subscribed here, or on their way
        self._conn = connection
        self._events = events
        self._cluster = cluster
        self._chunk = chunk
        self._idle_s = idle_s
        self._sent: deque[_Sent] = deque()
        self._heard = False  # a reply came since the watchdog last looked
        self._silent = False  # the watchdog gave the connection up

    async def connect(self) -> None:
        with store_errors():
            await self._conn.connect()

    async def close(self) -> None:
        with contextlib.suppress(*LIBRARY_ERRORS):
            await self._conn.disconnect(nowait=True)

    async def send(self, subscribe: Collection[bytes], unsubscribe: Collection[bytes]) -> None:
        commands: list[tuple[Any, ...]] = []
        for kind, name, channels in (
            (b"sunsubscribe", "SUNSUBSCRIBE", unsubscribe),
            (b"ssubscribe", "SSUBSCRIBE", subscribe),
        ):
            for group in self._groups(channels):
                commands.append((name, *group))
                self._sent.append(_Sent(kind, set(group)))
        self.channels.difference_update(unsubscribe)
        self.channels.update(subscribe)
        if commands:
            with store_errors():
                packed = self._conn.pack_commands(commands)
                await self._conn.send_packed_command(packed, check_health=False)

    def _groups(self, channels: Collection[bytes]) -> list[list[bytes]]:
        """On a Cluster one command names channels of one slot (else CROSSSLOT); a single node
        takes any mix. At most `chunk` channels per command either way."""
        if not channels:
            return []
        by_slot: dict[int, list[bytes]] = {}
        if self._cluster:
            for channel in channels:
                by_slot.setdefault(SlotMap.slot(channel), []).append(channel)
        else:
            by_slot[0] = list(channels)
        n = self._chunk
        return [g[at : at + n] for g in by_slot.values() for at in range(0, len(g), n)]

    async def read(self) -> None:
        """Follow the replies until the connection fails (StoreUnavailable) or is cancelled.
        Reads wait without a timeout: a timeout per read would cost every notification a timer
        of its own, so silence is the watchdog's, once per `idle_s`."""
        reader = asyncio.current_task()
        assert reader is not None
        watchdog = asyncio.create_task(self._watch(reader))
        try:
            while True:
                try:
                    reply = await self._conn.read_response(timeout=math.inf)
                except rx.ResponseError as exc:  # an error reply: the oldest command failed
                    self._heard = True
                    self._refused(exc)
                    continue
                except LIBRARY_ERRORS as exc:
                    raise translate(exc) from exc
                self._heard = True
                self._handle(reply)
        except asyncio.CancelledError:
            if self._silent and reader.uncancel() == 0:  # the watchdog's, not our owner's
                raise StoreUnavailable(
                    f"Redis unavailable: no reply from {self._where} for {self._idle_s}s",
                    retriable=True,
                ) from None
            raise
        finally:
            # Awaited, and cancelled again if need be: its PING goes through redis-py's
            # wait_for, where a cancel can be lost (application/cancelling.py).
            await cancel_and_wait((watchdog,))

    async def _watch(self, reader: asyncio.Task[None]) -> None:
        while True:
            await asyncio.sleep(self._idle_s)  # the idle period itself, not a wait for a result
            if self._heard:
                self._heard = False
            elif any(sent.kind == b"pong" for sent in self._sent):
                self._silent = True
                reader.cancel()
                return
            else:
                self._sent.append(_Sent(b"pong"))
                # A failed write shows in the reader too: it is the one that reports it.
                with contextlib.suppress(*LIBRARY_ERRORS):
                    await self._conn.send_packed_command(self._conn.pack_command("PING"), False)

    def _handle(self, reply: Any) -> None:
        kind = reply[0]
        if kind == b"smessage":
            self._events.message(reply[1], reply[2])
            return
        head = self._sent[0] if self._sent else None
        channel = reply[1]
        if head is not None and head.kind == kind and (kind == b"pong" or channel in head.channels):
            head.channels.discard(channel)
            if not head.channels:
                self._sent.popleft()
            if kind == b"ssubscribe" and channel in self.channels:
                self._events.confirmed_on(self, channel)
        elif kind == b"sunsubscribe":
            # Not one we asked for: Redis unsubscribed us, since the slot moved to another node.
            if channel in self.channels:
                self.channels.discard(channel)
                self._events.dropped(self, [channel], "the slot moved to another node")
        else:
            raise StoreUnavailable(f"Redis refused: unexpected reply {kind!r} from {self._where}")

    def _refused(self, exc: rx.ResponseError) -> None:
        if not self._sent:
            raise translate(exc) from exc
        sent = self._sent.popleft()
        if sent.kind == b"ssubscribe":
            lost = [c for c in sent.channels if c in self.channels]
            self.channels.difference_update(lost)
            self._events.dropped(self, lost, f"{type(exc).__name__}: {exc}")
        elif sent.kind == b"pong":
            raise translate(exc) from exc
        # A refused SUNSUBSCRIBE: the channel may stay subscribed; its messages are ignored.

    @property
    def _where(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"
