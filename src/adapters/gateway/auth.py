"""Who is asking: bearer JWTs validated with PyJWT (SPEC §8)."""

from __future__ import annotations

from typing import Any

import jwt

from adapters.gateway.keys import KeyRefused, hmac_key, public_key
from adapters.gateway.settings import AuthSettings
from application.gateway.ports import AuthError
from application.ports import Clock
from domain.checks import is_user_id
from domain.gateway.credentials import Principal, expired, expiry_of


class AuthConfigError(ValueError):
    """The auth settings cannot verify anything (no key for the algorithm, or a bad one)."""


class JwtAuthenticator:
    """Validates bearer JWTs: signature, `exp` (required), `aud`/`iss` when configured.

    `leeway_s` tolerates clock skew on `nbf` and `iat`, never on `exp`: a stream ends at `exp`,
    so a token already past it (by this gateway's clock) is refused rather than opening a stream
    that would have to end at once or send events after its credential expired.
    """

    def __init__(self, settings: AuthSettings, *, clock: Clock) -> None:
        self._s = settings
        self._clock = clock
        # The key is loaded once, here: a key PyJWT cannot use is a refusal at start, never a
        # 500 on each request (the settings validator already refused it; this is the backstop).
        try:
            if settings.algorithm.startswith("HS"):
                if settings.secret is None:
                    raise AuthConfigError("auth.secret is required for " + settings.algorithm)
                self._key: Any = hmac_key(settings.algorithm, settings.secret.get_secret_value())
            else:
                if settings.public_key is None:
                    raise AuthConfigError("auth.public_key is required for " + settings.algorithm)
                self._key = public_key(settings.algorithm, settings.public_key.get_secret_value())
        except KeyRefused as exc:
            field = "secret" if settings.algorithm.startswith("HS") else "public_key"
            raise AuthConfigError(f"auth.{field} {exc}") from None

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
        except jwt.PyJWTError:
            # Covers a forged signature, a wrong algorithm, garbage, and whatever else PyJWT
            # raises about a token (InvalidKeyError included): a 401, never a 500. The token
            # is not echoed.
            raise AuthError("invalid_token", "the token is invalid") from None
        user = claims.get(s.user_claim)
        if isinstance(user, int) and not isinstance(user, bool):
            user = str(user)
        # The bridge's rule: a user id goes inside a Redis Cluster hash tag (no braces).
        if not isinstance(user, str) or not is_user_id(user):
            raise AuthError("invalid_user", f"the {s.user_claim!r} claim is not a valid user id")
        expires_at = expiry_of(claims["exp"])  # PyJWT checked it is a number, not that it fits
        if expires_at is None:
            raise AuthError("invalid_token", "the token's 'exp' claim is not a time")
        if expired(expires_at, self._clock.unix()):
            raise AuthError("expired_token", "the token has expired")
        return Principal(user, expires_at)

    def mint(self, user_id: str, ttl_s: float) -> str:
        """A token for `user_id` (HS* only): the dev-only demo uses it, never production paths."""
        if not self._s.algorithm.startswith("HS"):
            raise AuthConfigError("minting needs an HS* secret")
        now = int(self._clock.unix())
        claims: dict[str, Any] = {self._s.user_claim: user_id, "iat": now, "exp": now + int(ttl_s)}
        if self._s.audience is not None:
            claims["aud"] = self._s.audience
        if self._s.issuer is not None:
            claims["iss"] = self._s.issuer
        return jwt.encode(claims, self._key, algorithm=self._s.algorithm)
