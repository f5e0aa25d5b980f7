"""Settings that each pass their own field's check but still cannot work (SPEC §10).

Each check yields problems as (key path, message); `EventBridgeSettings` raises them all at
once as a validation error naming each key, so a process never starts on them. What is
refused, and why, is in docs/configuration.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel

from adapters.gateway.settings import AuthSettings, GatewaySettings
from adapters.kafka.settings import KafkaSettings
from adapters.redis.settings import RedisSettings

Problem = tuple[tuple[str, ...], str]

# Kafka's own rule for a topic name (org.apache.kafka.common.internals.Topic).
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_INT32_MAX = 2**31 - 1  # Kafka's wire fields (timeouts, sizes, partition counts) are int32
# A member survives two lost heartbeats only below a third of the session (Kafka's guidance).
HEARTBEATS_PER_SESSION = 3
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_GLOB = re.compile(r"[*?\[\]\\]")  # sse_prefix goes into a PSUBSCRIBE pattern
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 6265 token


def serving_problems(auth: AuthSettings, ports: dict[tuple[str, str], int]) -> list[Problem]:
    """What a process that serves the gateway needs besides: a key for its algorithm, and
    each of its listening `ports` (by key) its own."""
    found: list[Problem] = []
    if auth.algorithm.startswith("HS") and auth.secret is None:
        found.append((("auth", "secret"), f"is required for {auth.algorithm} (no default)"))
    if not auth.algorithm.startswith("HS") and auth.public_key is None:
        found.append(
            (("auth", "public_key"), f"is required for {auth.algorithm}: a PEM public key")
        )
    seen: dict[int, tuple[str, str]] = {}
    for key, port in ports.items():
        if port != 0 and port in seen:
            other = ".".join(seen[port])
            found.append((key, f"is {other} too ({port}): this process listens on both"))
        seen.setdefault(port, key)
    return found


def not_finite(settings: BaseModel, path: tuple[str, ...] = ()) -> Iterator[Problem]:
    """pydantic takes "inf" for a float; no duration or ratio here means anything by it, and
    the domain policies, asyncio and uvicorn raise on it long after start."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            yield from not_finite(value, (*path, name))
        elif isinstance(value, float) and not math.isfinite(value):
            yield (*path, name), "must be a finite number"


def kafka_problems(k: KafkaSettings) -> Iterator[Problem]:
    for entry in k.bootstrap_servers.split(","):
        if (problem := _broker_problem(entry.strip())) is not None:
            yield ("kafka", "bootstrap_servers"), problem
            break
    for name, topic in (("topic", k.topic), ("dlq_topic", k.dead_letter_topic)):
        if not _TOPIC.fullmatch(topic) or topic in (".", ".."):
            yield (
                ("kafka", name),
                f"{topic[:60]!r} is not a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)",
            )
    # Kafka takes '.' and '_' as one character in metric names and refuses such a pair too.
    if k.dead_letter_topic.replace(".", "_") == k.topic.replace(".", "_"):
        yield (
            ("kafka", "dlq_topic"),
            "is kafka.topic: every dead letter would be consumed again, and dead-lettered again",
        )
    if k.heartbeat_interval_ms * HEARTBEATS_PER_SESSION > k.effective_session_timeout_ms:
        yield (
            ("kafka", "heartbeat_interval_ms"),
            "must be at most a third of kafka.session_timeout_ms"
            f" ({k.effective_session_timeout_ms}):"
            " the group would evict the member after one lost heartbeat (or between two)",
        )
    if k.fetch_max_wait_ms >= k.request_timeout_ms:
        yield (
            ("kafka", "fetch_max_wait_ms"),
            f"must be below kafka.request_timeout_ms ({k.request_timeout_ms}): every fetch"
            " would time out",
        )
    for name in type(k).model_fields:
        value = getattr(k, name)
        if isinstance(value, int) and not isinstance(value, bool) and value > _INT32_MAX:
            yield ("kafka", name), f"must be at most {_INT32_MAX} (a Kafka int32)"


def _broker_problem(entry: str) -> str | None:
    """host[:port] as aiokafka reads it, or [v6]:port; None if it can be connected to."""
    host, port = entry, ""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    if not host:
        return f"{entry[:60]!r} has no host (want host:port, comma-separated)"
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return f"{entry[:60]!r} has no valid port (want host:port, comma-separated)"
    return None


def redis_problems(r: RedisSettings) -> Iterator[Problem]:
    if (problem := redis_url_problem(r.url, cluster=r.cluster)) is not None:
        yield ("redis", "url"), problem
    for name in ("sse_prefix", "session_prefix", "ticket_prefix"):
        prefix = getattr(r, name)
        if "{" in prefix or "}" in prefix:
            yield (
                ("redis", name),
                "must not hold '{' or '}': each key's hash tag is the user or session id",
            )
    if _GLOB.search(r.sse_prefix):
        yield ("redis", "sse_prefix"), "must not hold * ? [ ] \\ (it is part of a pattern)"
    yield from replication_problems(r)


# -- durable acknowledgement (redis.min_replicas, redis.replica_timeout_ms) -------------------
def replication_problems(r: RedisSettings) -> Iterator[Problem]:
    """WAIT holds the write's connection for up to `replica_timeout_ms`: a socket that gives up
    sooner turns every slow confirmation into a connection error."""
    if r.min_replicas and r.replica_timeout_ms >= r.socket_timeout_s * 1000:
        yield (
            ("redis", "replica_timeout_ms"),
            f"must be below redis.socket_timeout_s ({r.socket_timeout_s} s): the socket would"
            " time out while WAIT still waits for the replicas",
        )


def redis_url_problem(url: str, *, cluster: bool) -> str | None:
    """What redis-py's `from_url` would raise on, or silently ignore, in `url` (no secret is
    repeated: a password is part of the URL). tests/unit hold this to redis-py's parse_url."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in _REDIS_SCHEMES:
        return "must start with redis://, rediss:// or unix://"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    query = parse_qs(parts.query)
    db_text = query["db"][0] if "db" in query else unquote(parts.path).replace("/", "")
    if scheme != "unix" and db_text and not (db_text.isascii() and db_text.isdigit()):
        return "names a database that is not a number (redis://host:port/<db>)"
    if cluster and (scheme == "unix" or db_text not in ("", "0")):
        return "must be redis:// or rediss:// with database 0 for a Redis Cluster"
    return None


def whitelist_problems(whitelist: tuple[str, ...]) -> Iterator[Problem]:
    if not whitelist:
        yield ("filter", "whitelist"), "is empty: every event would be ignored"
    for index, pattern in enumerate(whitelist):
        try:
            re.compile(pattern)
        except re.error as exc:
            yield ("filter", "whitelist"), f"pattern {index} {pattern[:80]!r} is not a regex: {exc}"


def auth_problems(a: AuthSettings) -> Iterator[Problem]:
    hs = a.algorithm.startswith("HS")
    if hs and a.public_key is not None:
        yield ("auth", "public_key"), f"is for RS*/ES* algorithms; {a.algorithm} uses auth.secret"
    if not hs and a.secret is not None:
        yield ("auth", "secret"), f"is for HS* algorithms; {a.algorithm} uses auth.public_key"
    for name in ("audience", "issuer"):
        if getattr(a, name) == "":
            yield ("auth", name), "is empty: leave it unset not to check the claim"
    if a.cookie_name is not None and not _COOKIE_NAME.fullmatch(a.cookie_name):
        yield ("auth", "cookie_name"), "is not a cookie name (RFC 6265 token characters)"
    if (hs and a.secret is not None) or (not hs and a.public_key is not None):
        # Imported here: PyJWT and cryptography load only when a key is configured.
        from adapters.gateway.keys import KeyRefused, hmac_key, public_key  # noqa: PLC0415

        try:
            if hs and a.secret is not None:
                hmac_key(a.algorithm, a.secret.get_secret_value())
            elif a.public_key is not None:
                public_key(a.algorithm, a.public_key.get_secret_value())
        except KeyRefused as exc:
            yield ("auth", "secret" if hs else "public_key"), str(exc)


def gateway_problems(g: GatewaySettings, a: AuthSettings) -> Iterator[Problem]:
    if g.demo_enabled and not a.algorithm.startswith("HS"):
        yield (
            ("gateway", "demo_enabled"),
            f"needs an HS* auth.algorithm to mint its dev tokens, not {a.algorithm}",
        )


# -- The gateway's send buffers in bytes (issue 12) ----------------------------------------------

# What a largest event adds once it is framed (id, event type, SSE field names): see
# application/gateway/frames.py.
_FRAMING_BYTES = 1024


def send_buffer_problems(g: GatewaySettings, max_data_bytes: int) -> Iterator[Problem]:
    """A connection's bytes must hold the largest event the bridge lets through, or it could
    never be sent; the process's bound, when set, at least one connection's."""
    least = max_data_bytes + _FRAMING_BYTES
    if g.send_buffer_bytes < least:
        yield (
            ("gateway", "send_buffer_bytes"),
            f"must be at least filter.max_data_bytes + {_FRAMING_BYTES} ({least}): the largest "
            "event would never fit a connection's buffer",
        )
    if 0 < g.send_buffer_total_bytes < g.send_buffer_bytes:
        yield (
            ("gateway", "send_buffer_total_bytes"),
            f"must be 0 (no bound) or at least gateway.send_buffer_bytes ({g.send_buffer_bytes})",
        )
