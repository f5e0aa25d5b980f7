"""The gateway's ports: stream reading, notifications, leases, tickets, telemetry; their errors."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol

from domain.gateway.credentials import Principal
from domain.gateway.entries import Entry
from domain.gateway.resume import StreamFacts, WindowFacts
from domain.gateway.stream_ids import StreamId

CloseReason = Literal["client", "token_expired", "slow_client", "shutdown", "error"]
CLOSE_REASONS: tuple[CloseReason, ...] = (
    "client",
    "token_expired",
    "slow_client",
    "shutdown",
    "error",
)
# The gateway's supervised background loops: a bounded label set.
BACKGROUND_TASKS = ("subscription", "tick", "lease_renewal")


class AuthError(Exception):
    """A request that must get 401; `code` is a stable, label-safe reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LeaseRefused(Exception):
    """The user holds the limit of live leases; `retry_after_s` is a hint."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"connection limit reached; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


class StreamReader(Protocol):
    """Reads users' streams (docs/redis-contract.md). Every method is read-only, so retrying
    is safe; raises StoreUnavailable when Redis cannot answer; cancelling one leaves nothing
    behind. Entries come as stored: bytes, never decoded."""

    async def read_after(self, user: str, cursor: str, count: int) -> list[Entry]:
        """Up to `count` entries strictly after `cursor` (an id), oldest first."""
        ...

    async def newest(self, user: str, count: int, *, before: str | None = None) -> list[Entry]:
        """Up to `count` entries, newest first, strictly before the id `before` (None: all)."""
        ...

    async def resume_facts(
        self, user: str, last: StreamId, count: int
    ) -> tuple[list[Entry], StreamFacts]:
        """In one round trip: up to `count` entries after `last`, then the stream's facts, read
        after that page (so a page followed by facts that show no gap is a whole continuation).
        The page is empty when the stream does not exist."""
        ...

    async def window_facts(self, user: str, last: StreamId, first: StreamId) -> WindowFacts:
        """What the user's dedup window holds between `last` and `first`, exclusive."""
        ...

    async def last_ids(self, users: Collection[str]) -> dict[str, StreamId | None]:
        """The id of each user's newest entry (None: no entry), in one round trip."""
        ...

    async def ping(self) -> None:
        """Returns when Redis answers; raises StoreUnavailable otherwise."""
        ...


class Notifications(Protocol):
    """Wake-ups for users whose streams got new entries. A wake-up carries no data: the stream
    decides what a client gets, and a wake-up may be lost (so `subscribed` means: re-read)."""

    @property
    def subscribed(self) -> bool:
        """Whether wake-ups are being received right now."""
        ...

    async def run(self, *, wake: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        """Until cancelled: stay subscribed, reconnecting with backoff; call `subscribed()`
        after every (re)subscription and `wake(user)` for each notification of a user.
        Never raises for an outage (it retries); cancellation unsubscribes and closes."""
        ...


class Leases(Protocol):
    """Per-user connection leases shared by every gateway (docs/redis-contract.md). `now` is
    unix seconds. Raise StoreUnavailable when Redis cannot answer; cancellation may leave a
    lease taken, which then expires by itself."""

    async def acquire(self, user: str, conn_id: str, *, now: float) -> None:
        """Take a lease for `conn_id`, or raise LeaseRefused (with the wait until the earliest
        live lease expires); expired leases do not count."""
        ...

    async def check(self, user: str, *, now: float) -> None:
        """Raise LeaseRefused if `user` holds the limit of live leases; takes nothing."""
        ...

    async def renew(self, leases: Sequence[tuple[str, str]], *, now: float) -> None:
        """Extend each (user, conn_id) lease that still exists, in chunks; never re-creates
        one released meanwhile (the list may be a stale snapshot). Idempotent."""
        ...

    async def release(self, user: str, conn_id: str) -> None:
        """Give the lease back; idempotent."""
        ...

    async def release_all(self, leases: Sequence[tuple[str, str]]) -> None:
        """Give back every (user, conn_id) lease in one round trip; idempotent."""
        ...


class Tickets(Protocol):
    """Single-use tickets standing for a principal (SPEC §8). Raise StoreUnavailable when
    Redis cannot answer; a ticket whose `redeem` failed that way may or may not be used."""

    async def issue(self, principal: Principal, ttl_s: int) -> str:
        """A new, unguessable ticket for `principal`, gone after `ttl_s` seconds."""
        ...

    async def peek(self, ticket: str) -> Principal | None:
        """The principal of a live ticket, without consuming it; None: unknown, used or gone.
        An unreadable stored expiry reads as long past."""
        ...

    async def redeem(self, ticket: str) -> Principal | None:
        """Consume the ticket atomically: of concurrent calls, exactly one gets the principal."""
        ...


class GatewayTelemetry(Protocol):
    """Gateway metrics by intent; never blocks, never raises, never takes a user id.

    `reason` values are a small fixed set (CLOSE_REASONS, and the rejection codes of the HTTP
    adapter), so they are safe as metric labels.
    """

    def connection_opened(self) -> None: ...

    def connection_closed(self, reason: str) -> None: ...

    def sent(self, count: int, end_to_end_seconds: list[float]) -> None: ...

    def rejected(self, reason: str) -> None: ...

    def task_restarted(self, task: str) -> None: ...
