"""Connection leases: a user's live streams across every gateway, counted by expiry time."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """At most `limit` live leases per user; a lease lives `lease_s` unless renewed.

    A lease's score is its expiry in unix milliseconds: wall time, since every gateway shares
    it. A lease whose expiry is not after `now` no longer counts (a dead gateway's leases heal).
    """

    limit: int = 5
    lease_s: float = 45.0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit!r}")
        if not (math.isfinite(self.lease_s) and self.lease_s > 0):
            raise ValueError(f"lease_s must be a finite number > 0, got {self.lease_s!r}")

    @property
    def lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    @staticmethod
    def now_ms(now: float) -> int:
        """`now` (unix seconds) as the leases' score unit."""
        return int(now * 1000)

    def expiry_ms(self, now: float) -> int:
        """The score of a lease taken or renewed at `now`."""
        return self.now_ms(now) + self.lease_ms

    @staticmethod
    def retry_after_s(wait_ms: int) -> int:
        """`Retry-After` for a refused user, from the ms until their earliest lease expires:
        whole seconds, at least 1, at most an hour."""
        return max(1, min(math.ceil(int(wait_ms) / 1000), 3600))

    def renew_every_s(self, heartbeat_s: float) -> float:
        """Renew well inside the lease (and at least every heartbeat), so a live connection's
        lease never lapses."""
        return min(heartbeat_s, self.lease_s / 3)
