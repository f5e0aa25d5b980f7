"""JwtAuthenticator over the fake clock: expiry by the Clock port, the user id rule of routing."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from adapters.gateway.auth import JwtAuthenticator
from adapters.gateway.settings import AuthSettings
from application.fakes import FakeClock
from application.gateway.ports import AuthError

pytestmark = pytest.mark.unit

SECRET = "a-unit-test-secret-of-at-least-32-bytes!"


def _token(sub: str, exp: float) -> str:
    return jwt.encode({"sub": sub, "exp": int(exp)}, SECRET, algorithm="HS256")


def _refusal(auth: JwtAuthenticator, token: str) -> str:
    with pytest.raises(AuthError) as refused:
        auth.verify(token)
    return refused.value.code


def test_a_token_is_refused_from_its_exp_on_by_the_gateways_clock() -> None:
    clock = FakeClock(datetime.now(UTC))  # PyJWT checks `exp` on the system clock too
    auth = JwtAuthenticator(AuthSettings(secret=SECRET, leeway_s=60), clock=clock)
    exp = clock.unix() + 10
    principal = auth.verify(_token("u1", exp))
    assert (principal.user_id, principal.expires_at) == ("u1", int(exp))
    clock.advance(10)
    # PyJWT itself uses the system clock (and the leeway); the gateway's clock decides.
    assert _refusal(auth, _token("u1", exp)) == "expired_token"


def test_the_user_id_is_held_to_the_rule_the_bridge_routes_by() -> None:
    clock = FakeClock(datetime.now(UTC))  # PyJWT checks `exp` on the system clock too
    auth = JwtAuthenticator(AuthSettings(secret=SECRET), clock=clock)
    exp = clock.unix() + 60
    assert auth.verify(_token("alice@x.io", exp)).user_id == "alice@x.io"
    for bad in ("u{1}", "u 1", "u1\n", "a" * 129):
        assert _refusal(auth, _token(bad, exp)) == "invalid_user", bad


def test_whatever_pyjwt_raises_about_a_token_is_a_401_never_a_500() -> None:
    clock = FakeClock(datetime.now(UTC))
    auth = JwtAuthenticator(AuthSettings(secret=SECRET), clock=clock)
    token = _token("u1", clock.unix() + 60)
    # A key PyJWT refuses only when it uses it (InvalidKeyError is no InvalidTokenError): the
    # settings refuse such keys at start; this is the backstop at request time.
    auth._key = b""
    assert _refusal(auth, token) == "invalid_token"
