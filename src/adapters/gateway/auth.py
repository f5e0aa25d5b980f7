"""Who is asking: JWT validation (SPEC §8) and single-use SSE tickets kept in Redis."""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import orjson

from adapters.gateway.settings import AuthSettings
from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys

# User ids go inside a Redis Cluster hash tag, so `{` and `}` (and anything odd) are refused.
USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_TICKET = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


class AuthError(Exception):
    """A request that must get 401; `code` is a stable, label-safe reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user and the unix time at which their credential expires."""

    user_id: str
    expires_at: float


class AuthConfigError(ValueError):
    """The auth settings cannot verify anything (no key for the algorithm)."""


class JwtAuthenticator:
    """Validates bearer JWTs: signature, `exp` (required), `aud`/`iss` when configured.

    `leeway_s` tolerates clock skew on `nbf` and `iat`, never on `exp`: a stream ends at `exp`,
    so a token already past it (by this gateway's clock) is refused rather than opening a stream
    that would have to end at once or send events after its credential expired.
    """

    def __init__(self, settings: AuthSettings, *, wall: Callable[[], float] = time.time) -> None:
        self._s = settings
        self._wall = wall
        if settings.algorithm.startswith("HS"):
            if settings.secret is None:
                raise AuthConfigError("auth.secret is required for " + settings.algorithm)
            self._key: Any = settings.secret.get_secret_value()
        else:
            if settings.public_key is None:
                raise AuthConfigError("auth.public_key is required for " + settings.algorithm)
            self._key = settings.public_key.get_secret_value()

    def verify(self, token: str) -> Principal:
        s = self._s
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[s.algorithm],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp"], "verify_aud": s.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("expired_token", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("invalid_audience", "the token is not for this audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("invalid_issuer", "the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("invalid_token", f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            # Covers a forged signature, a wrong algorithm and garbage; the token is not echoed.
            raise AuthError("invalid_token", "the token is invalid") from None
        user = claims.get(s.user_claim)
        if isinstance(user, int) and not isinstance(user, bool):
            user = str(user)
        if not isinstance(user, str) or not USER_ID.match(user):
            raise AuthError("invalid_user", f"the {s.user_claim!r} claim is not a valid user id")
        return Principal(user, _unexpired(claims["exp"], self._wall()))

    def mint(self, user_id: str, ttl_s: float) -> str:
        """A token for `user_id` (HS* only): the dev-only demo uses it, never production paths."""
        if not self._s.algorithm.startswith("HS"):
            raise AuthConfigError("minting needs an HS* secret")
        now = int(self._wall())
        claims: dict[str, Any] = {self._s.user_claim: user_id, "iat": now, "exp": now + int(ttl_s)}
        if self._s.audience is not None:
            claims["aud"] = self._s.audience
        if self._s.issuer is not None:
            claims["iss"] = self._s.issuer
        return jwt.encode(claims, self._key, algorithm=self._s.algorithm)


def _unexpired(exp: object, now: float) -> float:
    """`exp` as unix seconds, if it is still ahead of `now` (PyJWT checked it is an integer)."""
    try:
        expires_at = float(exp)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise AuthError("invalid_token", "the token's 'exp' claim is not a time") from None
    if not math.isfinite(expires_at):
        raise AuthError("invalid_token", "the token's 'exp' claim is not a time")
    if expires_at <= now:
        raise AuthError("expired_token", "the token has expired")
    return expires_at


class RedisTickets:
    """Single-use tickets: `sse:ticket:{t}` → {"user_id", "exp"}.

    Opening a stream with a ticket is two steps, so a refused request (400, 429, 503) never
    costs the client its ticket: `peek` (GET) learns whose it is, and only once the stream is
    certain to open does `redeem` (GETDEL) consume it; a ticket redeemed by a concurrent request
    in between is refused then, and that request gives back its lease.
    """

    def __init__(
        self, *, client: Any, keys: RedisKeys, ttl_s: int, wall: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = ttl_s
        self._wall = wall

    async def issue(self, principal: Principal) -> tuple[str, int]:
        """A new ticket and its lifetime: never longer than the token it stands for."""
        left = math.ceil(principal.expires_at - self._wall())
        if left <= 0:
            raise AuthError("expired_token", "the token has expired")
        ttl = min(self._ttl_s, left)
        ticket = secrets.token_urlsafe(32)
        value = orjson.dumps({"user_id": principal.user_id, "exp": principal.expires_at})
        with store_errors():
            await self._client.set(self._keys.ticket(ticket), value, ex=ttl)
        return ticket, ttl

    async def peek(self, ticket: str) -> Principal:
        """The principal behind a live ticket, without consuming it."""
        if not _TICKET.fullmatch(ticket):
            raise AuthError("invalid_ticket", "the ticket is malformed")
        with store_errors():
            raw = await self._client.get(self._keys.ticket(ticket))
        return self._principal(raw)

    async def redeem(self, ticket: str) -> Principal:
        """Consume the ticket (GETDEL): it opens one stream, once; a used one is refused."""
        with store_errors():
            raw = await self._client.getdel(self._keys.ticket(ticket))
        return self._principal(raw)

    def _principal(self, raw: bytes | None) -> Principal:
        if raw is None:
            raise AuthError("invalid_ticket", "the ticket is unknown, used or expired")
        value = orjson.loads(raw)
        user_id, exp = str(value["user_id"]), value["exp"]
        try:
            return Principal(user_id, _unexpired(exp, self._wall()))
        except AuthError:
            raise AuthError("expired_token", "the token behind this ticket has expired") from None
