"""FakeStreamStore: the StreamStore port in memory, held to the Redis adapter by a contract."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from application.fake_clock import FakeClock
from application.ports import OwnerAnswer, PublishResult, ReplicasShort, StoreUnavailable
from domain.model import SseMessage


@dataclass
class _UserStream:
    entries: list[tuple[str, SseMessage]] = field(default_factory=list)
    ids: dict[str, None] = field(default_factory=dict)  # in write order, oldest first
    expires_at: float = 0.0


class FakeStreamStore:
    """Per-user streams in memory, held to what the Redis publish script does (one contract
    suite runs against both: tests/contracts/test_stream_store.py).

    Dedup by event id within the newest `dedup_window` ids of each user, trimmed after each
    user's events of a call (so a copy later in the same call is still caught); a user's
    stream and ids expire `channel_ttl` seconds after the last call that appended to them;
    session owners are first-owner-wins and expire `owner_ttl_s` after the last call that
    set or taught them (a lookup does not extend them). Time is `clock`'s.
    """

    def __init__(
        self,
        *,
        dedup_window: int = 10_000,
        channel_ttl: float = 3600,
        owner_ttl_s: float = 86_400,
        clock: FakeClock | None = None,
    ) -> None:
        self._window = dedup_window
        self._ttl = channel_ttl
        self._owner_ttl = owner_ttl_s
        self._clock = clock or FakeClock()
        self.streams: dict[str, _UserStream] = {}
        self.session_owners: dict[str, str] = {}
        self._owner_expiry: dict[str, float] = {}
        self.available = True
        # > 0: a publish is written (as on a master) and then not confirmed by this many
        # replicas (WAIT fell short): it raises ReplicasShort after writing.
        self.replicas_short_of = 0
        self.calls = 0
        self.refused_users: set[str] = set()  # users whose keys "hold the wrong type"
        self.refused_sessions: set[str] = set()  # sessions whose owner key "holds" another type
        self._seq = 0

    def _check(self) -> None:
        self.calls += 1
        if not self.available:
            raise StoreUnavailable("fake Redis is down")
        now = self._clock.monotonic()
        for user in [u for u, s in self.streams.items() if s.expires_at <= now]:
            del self.streams[user]
        for session in [s for s, at in self._owner_expiry.items() if at <= now]:
            del self._owner_expiry[session]
            self.session_owners.pop(session, None)

    def _own(self, session_id: str, user_id: str) -> str:
        """SET NX GET EX, then EXPIRE: the owner it holds; its time to live starts again."""
        owner = self.session_owners.setdefault(session_id, user_id)
        self._owner_expiry[session_id] = self._clock.monotonic() + self._owner_ttl
        return owner

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]:
        self._check()
        by_user: dict[str, list[int]] = {}
        for index, m in enumerate(messages):
            by_user.setdefault(m.user_id, []).append(index)
        results: dict[int, PublishResult] = {}
        for user, at in by_user.items():
            if user in self.refused_users:
                for index in at:
                    results[index] = PublishResult(
                        messages[index].event_id, "", False, None, "WRONGTYPE (fake)"
                    )
                continue
            stream = self.streams.get(user) or _UserStream()
            appended = False
            for index in at:
                m = messages[index]
                if m.event_id in stream.ids:
                    results[index] = PublishResult(m.event_id, "", duplicate=True)
                    continue
                self._seq += 1
                stream_id = f"{1_700_000_000_000 + self._seq}-0"
                stream.entries.append((stream_id, m))
                stream.ids[m.event_id] = None
                results[index] = PublishResult(m.event_id, stream_id, duplicate=False)
                appended = True
            if appended:
                while len(stream.ids) > self._window:
                    del stream.ids[next(iter(stream.ids))]
                stream.expires_at = self._clock.monotonic() + self._ttl
                self.streams[user] = stream
        # Owners are set after the streams, as the script does, and answered per message.
        out = [results[index] for index in range(len(messages))]
        for index, m in enumerate(messages):
            # The owner key is not the user's keys: it is written anyway, unless it is refused.
            if m.teaches_owner and m.session_id not in self.refused_sessions:
                owner = self._own(m.session_id, m.user_id)
                if out[index].refused is None:
                    out[index] = replace(out[index], owner=owner)
        if self.replicas_short_of:
            wanted = self.replicas_short_of
            raise ReplicasShort(f"fake WAIT {wanted}: 0 replicas", wanted=wanted, acked=0)
        return out

    async def owners(
        self, session_ids: Collection[str], claims: Mapping[str, str] | None = None
    ) -> OwnerAnswer:
        self._check()
        asked = set(session_ids) | set(claims or ())
        refused = {s: "WRONGTYPE (fake)" for s in asked if s in self.refused_sessions}
        before = {
            s: self.session_owners[s]
            for s in asked
            if s in self.session_owners and s not in refused
        }
        for session_id, user_id in (claims or {}).items():
            # NX: a held owner keeps its TTL; a refused key is not written at all.
            if session_id not in self.session_owners and session_id not in refused:
                self._own(session_id, user_id)
        return OwnerAnswer(before, refused)

    async def ping(self) -> None:
        self._check()

    def events_of(self, user_id: str) -> list[SseMessage]:
        stream = self.streams.get(user_id)
        return [m for _, m in stream.entries] if stream else []

    def ttl_of(self, user_id: str) -> float | None:
        """Seconds the user's stream and ids have left, or None when they do not exist."""
        stream = self.streams.get(user_id)
        now = self._clock.monotonic()
        return stream.expires_at - now if stream and stream.expires_at > now else None

    def dedup_ids(self, user_id: str) -> int:
        """How many event ids the user's dedup window holds."""
        stream = self.streams.get(user_id)
        return len(stream.ids) if stream else 0
