"""OwnerCache: the bridge's bounded memory of which user owns which session."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping


class _Lru:
    """A session→user map that forgets its least recently used entries past `max_sessions`."""

    def __init__(self, max_sessions: int) -> None:
        self._max = max_sessions
        self.items: OrderedDict[str, str] = OrderedDict()

    def get(self, session_id: str) -> str | None:
        owner = self.items.get(session_id)
        if owner is not None:
            self.items.move_to_end(session_id)
        return owner

    def put(self, session_id: str, user_id: str) -> None:
        self.items[session_id] = user_id
        self.items.move_to_end(session_id)
        if len(self.items) > self._max:
            self.items.popitem(last=False)


class OwnerCache:
    """Least-recently-used session→user map of owners the shared index confirmed (SPEC §3).

    Only the index's answers (an owner lookup, a claim, or what the publish script found in
    the owner key) become owners here: a record's own content never does, so a bridge with an
    empty memory (a restart, a new group member) cannot be taught a session's owner by a
    record that the index contradicts. Beside them it keeps the owners records *named* but the
    index has not confirmed yet: the user an owner-less event of the session would be claimed
    for, atomically, in the next lookup.
    """

    def __init__(self, max_sessions: int = 100_000) -> None:
        self._confirmed = _Lru(max_sessions)
        self._named = _Lru(max_sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._confirmed.items

    def __len__(self) -> int:
        return len(self._confirmed.items)

    def get(self, session_id: str) -> str | None:
        """The confirmed owner of a session, or None."""
        return self._confirmed.get(session_id)

    def named(self, session_id: str) -> str | None:
        """The first user a delivered record named for a session not confirmed yet, or None."""
        return self._named.get(session_id)

    def name(self, session_id: str, user_id: str) -> None:
        """A delivered record names its user for its session: the first one named is the claim
        made for the session, unless the index already confirmed an owner."""
        if session_id not in self._confirmed.items and session_id not in self._named.items:
            self._named.put(session_id, user_id)

    def update(self, owners: Mapping[str, str]) -> None:
        """Owners read from (or claimed in) the shared index: they are the owners from now on."""
        for session_id, user_id in owners.items():
            self._confirmed.put(session_id, user_id)
            self._named.items.pop(session_id, None)
