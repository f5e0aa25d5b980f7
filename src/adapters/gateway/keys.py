"""The gateway's verification key, loaded and checked once, at start (RFC 7518 §3.2-§3.4).

PyJWT loads a key lazily, on every `decode`, and only then finds that it is empty, too short,
not a key at all, or a private key where a public one belongs (then it raises AttributeError,
not one of its own errors). Loading it here, with PyJWT's own algorithm objects, turns each of
those into a refusal at start that names the setting; `decode` then gets the loaded key.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWTError
from jwt.algorithms import get_default_algorithms

_PUBLIC_KEY_TYPES = {"RS": rsa.RSAPublicKey, "ES": ec.EllipticCurvePublicKey}
_PRIVATE_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)
_LOAD_ERRORS = (PyJWTError, ValueError, TypeError, UnsupportedAlgorithm)


class KeyRefused(ValueError):
    """The configured key cannot verify tokens of the algorithm; the message never holds it."""


def _algorithm(name: str) -> Any:
    return get_default_algorithms()[name]


def hmac_key(algorithm: str, secret: str) -> bytes:
    """An HS* secret is at least as long as the hash's output (32, 48, 64 bytes for HS256,
    HS384, HS512: RFC 7518 §3.2) and does not look like an asymmetric key (PyJWT's rule)."""
    alg = _algorithm(algorithm)
    try:
        key: bytes = alg.prepare_key(secret)
    except _LOAD_ERRORS as exc:
        raise KeyRefused(f"cannot be used as an {algorithm} secret: {exc}") from None
    minimum = alg.hash_alg().digest_size
    if len(key) < minimum:
        raise KeyRefused(
            f"is {len(key)} bytes long; {algorithm} needs a secret of at least {minimum} bytes"
            " (RFC 7518 §3.2), e.g. `python -c 'import secrets; print(secrets.token_urlsafe"
            f"({minimum}))'`"
        )
    return key


def public_key(algorithm: str, pem: str) -> Any:
    """An RS*/ES* key is a public key of the algorithm's family (a PEM `PUBLIC KEY` block or an
    OpenSSH public key line): never a private key, an RSA key of at least 2048 bits (RFC 7518
    §3.3), an EC key on the algorithm's curve (§3.4)."""
    family = algorithm[:2]
    try:
        key = _algorithm(algorithm).prepare_key(pem)
    except _LOAD_ERRORS as exc:
        raise KeyRefused(
            f"is not a {family}* public key ({type(exc).__name__}: {exc}); give a PEM"
            " `-----BEGIN PUBLIC KEY-----` block"
        ) from None
    if isinstance(key, _PRIVATE_KEY_TYPES):
        # PyJWT would take it and fail on every token; a private key has no place on a gateway.
        raise KeyRefused(
            "is a private key; give its public half (`openssl pkey -in key.pem -pubout`)"
        )
    if not isinstance(key, _PUBLIC_KEY_TYPES[family]):
        raise KeyRefused(f"is not a {family}* public key")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise KeyRefused(f"is a {key.key_size}-bit RSA key; RFC 7518 §3.3 needs at least 2048 bits")
    return key
