"""Every setting that cannot work stops startup with a SettingsError naming its key (SPEC §10):
values each field takes alone but not together, or that only a library would refuse, later."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from redis.asyncio.connection import parse_url

from eventbridge.setting_checks import redis_url_problem
from eventbridge.settings import EventBridgeSettings, SettingsError, load_settings, require_serving

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

SECRET = "unit-secret-of-at-least-thirty-two-bytes!"
E = "EVENTBRIDGE__"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EVENTBRIDGE"):
            monkeypatch.delenv(name)


@cache
def _rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, private: bool = False) -> str:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


_KEYS = {
    "<rsa private>": lambda: _pem(_rsa(), private=True),
    "<rsa 1024 public>": lambda: _pem(_rsa(1024)),
    "<p384 public>": lambda: _pem(ec.generate_private_key(ec.SECP384R1())),
    "<p256 private>": lambda: _pem(ec.generate_private_key(ec.SECP256R1()), private=True),
    "<rsa public>": lambda: _pem(_rsa()),
}
RS256 = {E + "AUTH__ALGORITHM": "RS256"}
ES256 = {E + "AUTH__ALGORITHM": "ES256"}

REFUSED: list[tuple[str, dict[str, str], str]] = [
    # The bridge would dead-letter into its own input: every letter comes back, forever.
    ("dlq is the topic", {E + "KAFKA__TOPIC": "t", E + "KAFKA__DLQ_TOPIC": "t"}, "kafka.dlq_topic"),
    ("dlq collides", {E + "KAFKA__TOPIC": "a.b", E + "KAFKA__DLQ_TOPIC": "a_b"}, "kafka.dlq_topic"),
    ("topic name", {E + "KAFKA__TOPIC": "events/v1"}, "kafka.topic"),
    ("topic dots", {E + "KAFKA__TOPIC": ".."}, "kafka.topic"),
    ("default dlq too long", {E + "KAFKA__TOPIC": "t" * 247}, "kafka.dlq_topic"),
    ("no broker port", {E + "KAFKA__BOOTSTRAP_SERVERS": "b1:9092,b2:x"}, "kafka.bootstrap_servers"),
    ("no broker host", {E + "KAFKA__BOOTSTRAP_SERVERS": ":9092"}, "kafka.bootstrap_servers"),
    ("empty broker", {E + "KAFKA__BOOTSTRAP_SERVERS": "b1:9092,"}, "kafka.bootstrap_servers"),
    # The consumer's session expires between two heartbeats: it rejoins forever, never fetches.
    (
        "heartbeat past session",
        {E + "KAFKA__SESSION_TIMEOUT_MS": "10000", E + "KAFKA__HEARTBEAT_INTERVAL_MS": "20000"},
        "kafka.heartbeat_interval_ms",
    ),
    (
        "heartbeat past a third",
        {E + "KAFKA__SESSION_TIMEOUT_MS": "6000", E + "KAFKA__HEARTBEAT_INTERVAL_MS": "3000"},
        "kafka.heartbeat_interval_ms",
    ),
    (
        "fetch wait past request timeout",
        {E + "KAFKA__FETCH_MAX_WAIT_MS": "30000"},
        "kafka.fetch_max_wait_ms",
    ),
    (
        "past int32",
        {E + "KAFKA__MAX_PARTITION_FETCH_BYTES": str(2**31)},
        "kafka.max_partition_fetch_bytes",
    ),
    ("redis scheme", {E + "REDIS__URL": "foo://cache:6379"}, "redis.url"),
    ("redis port", {E + "REDIS__URL": "redis://cache:63a79/0"}, "redis.url"),
    ("redis port range", {E + "REDIS__URL": "redis://cache:70000/0"}, "redis.url"),
    ("redis db", {E + "REDIS__URL": "redis://cache:6379/zero"}, "redis.url"),
    ("redis db query", {E + "REDIS__URL": "redis://cache:6379?db=x"}, "redis.url"),
    (
        "cluster db",
        {E + "REDIS__URL": "redis://c:7000/2", E + "REDIS__CLUSTER": "true"},
        "redis.url",
    ),
    (
        "cluster unix",
        {E + "REDIS__URL": "unix:///r.sock", E + "REDIS__CLUSTER": "true"},
        "redis.url",
    ),
    ("hash tag prefix", {E + "REDIS__SSE_PREFIX": "sse:{x}:"}, "redis.sse_prefix"),
    ("glob prefix", {E + "REDIS__SSE_PREFIX": "sse:*:"}, "redis.sse_prefix"),
    ("brace session prefix", {E + "REDIS__SESSION_PREFIX": "s}"}, "redis.session_prefix"),
    ("whitelist regex", {E + "FILTER__WHITELIST": '["(unclosed"]'}, "filter.whitelist"),
    ("whitelist empty", {E + "FILTER__WHITELIST": "[]"}, "filter.whitelist"),
    ("infinite fetch", {E + "BRIDGE__FETCH_TIMEOUT_S": "inf"}, "bridge.fetch_timeout_s"),
    ("infinite skew", {E + "FILTER__MAX_FUTURE_SKEW_S": "inf"}, "filter.max_future_skew_s"),
    (
        "infinite cool-down",
        {E + "CIRCUIT_BREAKER__COOL_DOWN_S": "inf"},
        "circuit_breaker.cool_down_s",
    ),
    ("infinite drain", {E + "GATEWAY__DRAIN_S": "inf"}, "gateway.drain_s"),
    ("infinite leeway", {E + "AUTH__LEEWAY_S": "inf"}, "auth.leeway_s"),
    ("nan lease", {E + "GATEWAY__LEASE_S": "nan"}, "gateway.lease_s"),
    # An empty HMAC key: PyJWT raises InvalidKeyError on every token -> 500 on every request.
    ("empty secret", {E + "AUTH__SECRET": ""}, "auth.secret"),
    # A 1-byte HMAC key is brute-forced in seconds; RFC 7518 §3.2 asks for the hash's size.
    ("short secret", {E + "AUTH__SECRET": "a"}, "auth.secret"),
    ("short HS384", {E + "AUTH__ALGORITHM": "HS384", E + "AUTH__SECRET": "s" * 47}, "auth.secret"),
    ("short HS512", {E + "AUTH__ALGORITHM": "HS512", E + "AUTH__SECRET": "s" * 63}, "auth.secret"),
    ("PEM as secret", {E + "AUTH__SECRET": "<rsa public>"}, "auth.secret"),
    ("secret with RS256", {**RS256, E + "AUTH__SECRET": SECRET}, "auth.secret"),
    ("public key with HS256", {E + "AUTH__PUBLIC_KEY": "<rsa public>"}, "auth.public_key"),
    # Not a PEM: every RS256 token -> InvalidKeyError -> 500, while /readyz says ready.
    ("not a PEM", {**RS256, E + "AUTH__PUBLIC_KEY": "notapem"}, "auth.public_key"),
    # A private key where the public key belongs: AttributeError -> 500 on every token.
    ("private key", {**RS256, E + "AUTH__PUBLIC_KEY": "<rsa private>"}, "auth.public_key"),
    ("EC private key", {**ES256, E + "AUTH__PUBLIC_KEY": "<p256 private>"}, "auth.public_key"),
    ("RSA for ES256", {**ES256, E + "AUTH__PUBLIC_KEY": "<rsa public>"}, "auth.public_key"),
    ("wrong curve", {**ES256, E + "AUTH__PUBLIC_KEY": "<p384 public>"}, "auth.public_key"),
    ("EC for RS256", {**RS256, E + "AUTH__PUBLIC_KEY": "<p384 public>"}, "auth.public_key"),
    ("small RSA", {**RS256, E + "AUTH__PUBLIC_KEY": "<rsa 1024 public>"}, "auth.public_key"),
    ("empty audience", {E + "AUTH__AUDIENCE": ""}, "auth.audience"),
    ("empty issuer", {E + "AUTH__ISSUER": ""}, "auth.issuer"),
    ("cookie name", {E + "AUTH__COOKIE_NAME": "sse token"}, "auth.cookie_name"),
    ("demo on RS256", {**RS256, E + "GATEWAY__DEMO_ENABLED": "true"}, "gateway.demo_enabled"),
    ("empty service name", {E + "METRICS__SERVICE_NAME": ""}, "metrics.service_name"),
    ("metrics port", {E + "METRICS__GATEWAY_PORT": "70000"}, "metrics.gateway_port"),
]


@pytest.mark.parametrize(("env", "key"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_setting_that_cannot_work_stops_startup_naming_its_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], key: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, _KEYS[value]() if value in _KEYS else value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    env_name = "EVENTBRIDGE__" + key.replace(".", "__").upper()
    assert f"eventbridge.{key} ({env_name}): " in message
    assert "Traceback" not in message
    if "AUTH__SECRET" in env and len(env[E + "AUTH__SECRET"]) > 1:
        assert env[E + "AUTH__SECRET"] not in message  # a secret is never printed


def test_every_problem_is_named_at_once_not_only_the_first() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(
            kafka={"topic": "t", "dlq_topic": "t"}, auth={"secret": "short"}, redis={"url": "x"}
        )
    for key in ("kafka.dlq_topic", "auth.secret", "redis.url"):
        assert f"eventbridge.{key} " in str(refused.value)


@pytest.mark.parametrize(
    "auth",
    [
        {"secret": SECRET},
        {"algorithm": "HS512", "secret": "s" * 64},
        {"algorithm": "RS256", "public_key": "<rsa public>"},
        {"algorithm": "ES384", "public_key": "<p384 public>"},
    ],
)
def test_a_key_that_fits_its_algorithm_is_taken(auth: dict[str, str]) -> None:
    values = {k: _KEYS[v]() if v in _KEYS else v for k, v in auth.items()}
    settings = load_settings(auth=values)
    require_serving(settings, "gateway")


@pytest.mark.parametrize(
    ("auth", "key"),
    [({}, "auth.secret"), ({"algorithm": "RS256"}, "auth.public_key")],
)
def test_a_gateway_without_a_key_for_its_algorithm_does_not_start(
    auth: dict[str, str], key: str
) -> None:
    settings = load_settings(auth=auth)  # the bridge alone needs no key
    with pytest.raises(SettingsError, match=rf"eventbridge\.{key} "):
        require_serving(settings, "gateway")


def test_run_refuses_one_port_for_two_listeners() -> None:
    settings = load_settings(
        auth={"secret": SECRET}, gateway={"port": 9000}, bridge={"http_port": 9000}
    )
    require_serving(settings, "gateway")  # the gateway alone does not listen on the bridge's
    with pytest.raises(SettingsError, match=r"eventbridge\.bridge\.http_port .*gateway\.port"):
        require_serving(settings, "run")


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://:pw@cache:6379/3",
        "rediss://user:pw@cache/",
        "redis://cache",
        "redis://[::1]:6379/1",
        "unix:///run/redis.sock?db=2",
        "redis://cache:6379?db=4",
        "redis://cache:0x1/0",
        "redis://cache:6379/zero",
        "redis://cache:99999",
        "http://cache:6379",
        "cache:6379",
    ],
)
def test_a_redis_url_is_refused_if_redis_py_would_refuse_or_ignore_part_of_it(url: str) -> None:
    """The check mirrors redis-py's parse_url (without loading redis-py for every command),
    and is stricter only where redis-py silently drops what it cannot read (a database name)."""
    try:
        kwargs = parse_url(url)
    except ValueError:
        taken = False
    else:
        path_db = url.split("://", 1)[1].partition("?")[0].partition("/")[2]
        taken = "db" in kwargs or not path_db or url.startswith("unix")
    assert (redis_url_problem(url, cluster=False) is None) == taken


def test_settings_built_directly_are_held_to_the_same_rules() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        EventBridgeSettings(kafka={"topic": "t", "dlq_topic": "t"})  # type: ignore[arg-type]
    assert refused.value.errors()[0]["loc"] == ("kafka", "dlq_topic")


def _start(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventbridge", command],
        env={**os.environ, E + "METRICS__LOG_JSON": "false", **env},  # no EVENTBRIDGE* (clean_env)
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("command", "setting"),
    [("gateway", "gateway.port"), ("bridge", "bridge.http_port"), ("run", "gateway.port")],
)
def test_a_port_in_use_stops_the_process_with_one_line_naming_the_setting_and_status_2(
    command: str, setting: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {
            E + "AUTH__SECRET": SECRET,
            E + "GATEWAY__PORT": str(port) if setting == "gateway.port" else "0",
            E + "BRIDGE__HTTP_PORT": str(port) if setting == "bridge.http_port" else "0",
            # Nothing listens there: the process must stop before it would need Kafka or Redis.
            E + "KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9",
            E + "REDIS__URL": "redis://127.0.0.1:9/0",
        }
        result = _start(command, env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("eventbridge: ")]
    env_name = E + setting.replace(".", "__").upper()
    assert f"eventbridge.{setting} ({env_name}): 127.0.0.1:{port} is already in use" in line


def test_a_gateway_without_a_public_key_for_rs256_stops_with_status_2() -> None:
    result = _start("gateway", {E + "AUTH__ALGORITHM": "RS256", E + "GATEWAY__PORT": "0"})
    assert result.returncode == 2, result.stderr
    assert (
        "eventbridge.auth.public_key (EVENTBRIDGE__AUTH__PUBLIC_KEY): is required" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_metrics_listener_may_not_share_the_gateways_port() -> None:
    settings = load_settings(
        auth={"secret": SECRET}, gateway={"port": 9000}, metrics={"gateway_port": 9000}
    )
    with pytest.raises(SettingsError, match=r"eventbridge\.metrics\.gateway_port .*gateway\.port"):
        require_serving(settings, "gateway")


def test_a_listening_address_this_machine_does_not_have_names_the_host_setting() -> None:
    from eventbridge.listen import listening_socket

    with pytest.raises(SettingsError) as refused:  # TEST-NET-1: never an address of ours
        listening_socket(
            "192.0.2.1", 0, host_key=("gateway", "host"), port_key=("gateway", "port"), backlog=1
        )
    assert (
        "eventbridge.gateway.host (EVENTBRIDGE__GATEWAY__HOST): '192.0.2.1' is not an address"
        in str(refused.value)
    )
