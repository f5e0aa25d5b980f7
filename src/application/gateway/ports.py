"""The gateway's ports: stream reading, notifications, leases, tickets, telemetry; their errors."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol

from application.gateway.counts import GatewayCounts
from domain.gateway.credentials import Principal
from domain.gateway.entries import Entry
from domain.gateway.notices import Notice
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
    """Notifications of the users this gateway follows (sharded pub/sub, SPEC §6): a gateway's
    Redis traffic grows with its own users' events. A notification may be lost (pub/sub drops
    them silently), and the stream, not a notification, is the source of truth: so whenever a
    user's subscription is (re)confirmed after it was lost, the port says so (`resubscribed`),
    and that user's connections read their stream."""

    @property
    def subscribed(self) -> bool:
        """Whether notifications are being received right now for every followed user."""
        ...

    def follow(self, user: str) -> None:
        """Receive `user`'s notifications from now on (idempotent). Takes effect soon, batched
        with every other change; `confirmed` waits for it."""
        ...

    def unfollow(self, user: str) -> None:
        """Stop receiving `user`'s notifications (idempotent; batched like `follow`)."""
        ...

    async def confirmed(self, user: str) -> None:
        """Returns once `user`'s subscription is confirmed (at once if it is, or if `user` is
        not followed). Cancelling the wait is safe; a confirmation nobody waited for is
        reported `resubscribed`."""
        ...

    async def run(
        self,
        *,
        notify: Callable[[str, Notice | None], None],
        resubscribed: Callable[[Collection[str]], None],
    ) -> None:
        """Until cancelled: keep every followed user subscribed, reconnecting with backoff (and
        wherever a user's slot moves); call `notify(user, notice)` for each notification (None:
        one that could not be read, so the user's connections read their stream) and
        `resubscribed(users)` for users whose subscription was restored. Never raises for an
        outage (it retries); cancellation unsubscribes and closes."""
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

    def latency(self, end_to_end_s: float | None, stored_s: float | None) -> None:
        """A sampled write's first (oldest) event: from its own timestamp, and from Redis's
        clock when it was stored, to its SSE write (None when unknown)."""
        ...

    def rejected(self, reason: str) -> None: ...

    def task_restarted(self, task: str) -> None: ...

    def watch(self, counts: GatewayCounts) -> None:
        """The gateway's running totals (events sent, notifications by kind), read when
        metrics are collected: nothing is counted per event by the telemetry itself."""
        ...
