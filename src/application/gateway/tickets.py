"""TicketDesk: single-use tickets for browsers, which cannot send a bearer header (SPEC §8)."""

from __future__ import annotations

from application.gateway.ports import AuthError, Leases, Tickets
from application.ports import Clock
from domain.gateway.credentials import Principal, expired, ticket_ttl_s, valid_ticket


class TicketDesk:
    """Opening a stream with a ticket is two steps, so a refused request (400, 429, 503) never
    costs the client its ticket: `peek` learns whose it is, and only once the stream is certain
    to open does `redeem` consume it; a ticket redeemed by a concurrent request in between is
    refused then (AuthError), and that request gives back its lease."""

    def __init__(self, *, tickets: Tickets, leases: Leases, clock: Clock, ttl_max_s: int):
        self._tickets = tickets
        self._leases = leases
        self._clock = clock
        self._ttl_max_s = ttl_max_s

    async def issue(self, principal: Principal) -> tuple[str, int]:
        """A ticket and its lifetime (never past the token's). Advisory: a user at the limit
        hears it here (LeaseRefused), since a browser's EventSource cannot read a refused
        connection's status; the lease taken at connect still decides."""
        now = self._clock.unix()
        await self._leases.check(principal.user_id, now=now)
        ttl = ticket_ttl_s(principal.expires_at, now, self._ttl_max_s)
        if ttl is None:
            raise AuthError("expired_token", "the token has expired")
        return await self._tickets.issue(principal, ttl), ttl

    async def peek(self, ticket: str) -> Principal:
        """The principal behind a live ticket, which stays usable (AuthError otherwise)."""
        if not valid_ticket(ticket):
            raise AuthError("invalid_ticket", "the ticket is malformed")
        return self._live(await self._tickets.peek(ticket))

    async def redeem(self, ticket: str) -> Principal:
        """Consume the ticket: it opens one stream, once; a used one is refused."""
        return self._live(await self._tickets.redeem(ticket))

    def _live(self, principal: Principal | None) -> Principal:
        if principal is None:
            raise AuthError("invalid_ticket", "the ticket is unknown, used or expired")
        if expired(principal.expires_at, self._clock.unix()):
            raise AuthError("expired_token", "the token behind this ticket has expired")
        return principal
