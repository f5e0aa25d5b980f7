"""OwnerCache: the bridge's bounded memory of which user owns which session."""

from __future__ import annotations

from collections import OrderedDict


class OwnerCache:
    """Least-recently-used session→user map; Redis holds the shared copy (SPEC §3)."""

    def __init__(self, max_sessions: int = 100_000) -> None:
        self._max = max_sessions
        self._owners: OrderedDict[str, str] = OrderedDict()

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._owners

    def __len__(self) -> int:
        return len(self._owners)

    def get(self, session_id: str) -> str | None:
        owner = self._owners.get(session_id)
        if owner is not None:
            self._owners.move_to_end(session_id)
        return owner

    def learn(self, session_id: str, user_id: str) -> None:
        """Remember an owner; the first owner seen for a session wins, like SET NX in Redis."""
        if session_id in self._owners:
            self._owners.move_to_end(session_id)
            return
        self._owners[session_id] = user_id
        if len(self._owners) > self._max:
            self._owners.popitem(last=False)

    def update(self, owners: dict[str, str]) -> None:
        """Owners read from the shared index: they win over anything learned locally."""
        for session_id, user_id in owners.items():
            self._owners[session_id] = user_id
            self._owners.move_to_end(session_id)
        while len(self._owners) > self._max:
            self._owners.popitem(last=False)
