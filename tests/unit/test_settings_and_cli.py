"""Settings from env and the seed's YAML, clear errors naming the key, and `eventbridge check`."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import uvloop

from domain.breaker import BreakerPolicy
from eventbridge.check import check_lines
from eventbridge.cli import EXIT_STOP_TIMEOUT, _loop_factory, _stop_deadline_s, main
from eventbridge.settings import CONFIG_ENV, EventBridgeSettings, SettingsError, load_settings
from eventbridge.wiring.bridge import breaker_policy

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

SEED_YAML = """
eventbridge:
  kafka:
    topic: "genesis.domain.events"
    group_id: "eventbridge-consumer"
    auto_offset_reset: "earliest"
  circuit_breaker:
    failure_threshold: 5
    recovery_timeout: 60
    expected_exception: [RedisError, ConnectionError]
  metrics:
    collect_interval: 30
    prometheus_enabled: true
  redis:
    sse_prefix: "sse:user:"
    channel_ttl: 3600
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("EVENTBRIDGE"):
            monkeypatch.delenv(name)


def test_the_seed_yaml_loads_and_its_breaker_means_five_failures_then_sixty_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "eventbridge.yaml"
    config.write_text(SEED_YAML)
    monkeypatch.setenv(CONFIG_ENV, "")  # so monkeypatch removes what load_settings sets
    settings = load_settings(config)
    assert settings.kafka.topic == "genesis.domain.events"
    assert settings.redis.channel_ttl == 3600
    policy = breaker_policy(settings.circuit_breaker)
    assert policy == BreakerPolicy.from_seed(failure_threshold=5, recovery_timeout=60)
    monkeypatch.delenv(CONFIG_ENV)


def test_env_variables_override_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTBRIDGE__KAFKA__TOPIC", "other.topic")
    monkeypatch.setenv("EVENTBRIDGE__CIRCUIT_BREAKER__POLICY", "drop")
    monkeypatch.setenv("EVENTBRIDGE__FILTER__WHITELIST", '["^Genesis\\\\.Session\\\\.Started$"]')
    settings = EventBridgeSettings()
    assert settings.kafka.topic == "other.topic"
    assert settings.circuit_breaker.policy == "drop"
    assert settings.filter.whitelist == ("^Genesis\\.Session\\.Started$",)
    assert settings.kafka.dead_letter_topic == "other.topic.dlq"


def test_a_bad_value_is_an_error_naming_the_key_and_its_env_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTBRIDGE__KAFKA__SESSION_TIMEOUT_MS", "12")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "eventbridge.kafka.session_timeout_ms" in message
    assert "EVENTBRIDGE__KAFKA__SESSION_TIMEOUT_MS" in message


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"eventbridge\.redis\.urll"):
        load_settings(redis={"urll": "redis://x"})


def test_the_cli_stops_at_start_on_a_bad_setting_with_exit_code_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eventbridge", "bridge"],
        env={"EVENTBRIDGE__CIRCUIT_BREAKER__POLICY": "panic", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "eventbridge.circuit_breaker.policy" in result.stderr


def test_check_prints_a_verdict_per_line_and_routes_agents_to_the_session_owner() -> None:
    session = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat()
    command = {
        "event_id": str(uuid.uuid4()),
        "event_type": "Genesis.Session.Command.Received",
        "aggregate_type": "GenesisFlow",
        "aggregate_id": session,
        "session_id": session,
        "user_id": "42",
        "metadata": {"source": "api-gateway", "user_id": "42"},
        "created_at": now,
        "payload": {"user_id": "99", "user_input": "a storm"},
    }
    proposal = {
        "event_id": str(uuid.uuid4()),
        "event_type": "Genesis.Session.Theme.Proposed",
        "aggregate_type": "GenesisFlow",
        "aggregate_id": session,
        "session_id": session,
        "metadata": {"source": "agent"},
        "created_at": now,
        "content": {"theme": "storms"},
    }
    lines = [
        orjson.dumps(command),
        orjson.dumps(proposal),
        b"{not json",
        orjson.dumps({**proposal, "event_type": "Genesis.Session.Bogus.Thing"}),
    ]
    out = io.StringIO()
    invalid = check_lines(lines, EventBridgeSettings(), out)
    text = out.getvalue()
    assert invalid == 1
    assert "line 1: delivered to user 42" in text
    assert "line 2: delivered to user 42" in text
    assert "event: Genesis.Session.Theme.Proposed" in text
    assert "line 3: invalid invalid_json" in text
    assert "line 4: ignored not_whitelisted" in text


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["replay", "--since", "yesterday"], "not an ISO-8601 time"),
        (["show", "--limit", "0"], "must be at least 1"),
        (["purge"], "invalid choice"),
    ],
)
def test_dlq_refuses_bad_arguments_before_touching_kafka(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dlq", *argv])
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_only_the_gateway_command_runs_on_uvloop() -> None:
    assert _loop_factory("gateway") is uvloop.new_event_loop
    assert _loop_factory("bridge") is None
    assert _loop_factory("run") is None


def test_the_bridge_stop_is_bounded_by_its_timeout_and_runs_by_the_gateway_drain_as_well(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTBRIDGE__BRIDGE__STOP_TIMEOUT_S", "12")
    monkeypatch.setenv("EVENTBRIDGE__GATEWAY__DRAIN_S", "4")
    settings = load_settings()
    assert _stop_deadline_s("bridge", settings) == 12
    assert _stop_deadline_s("run", settings) == 12  # both drain at once: the longer
    monkeypatch.setenv("EVENTBRIDGE__GATEWAY__DRAIN_S", "20")
    assert _stop_deadline_s("run", load_settings()) == 21
    assert _stop_deadline_s("gateway", settings) is None  # its drain bounds it: gateway.drain_s


def test_a_stop_timeout_of_zero_is_refused_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTBRIDGE__BRIDGE__STOP_TIMEOUT_S", "0")
    with pytest.raises(SettingsError, match=r"bridge\.stop_timeout_s"):
        load_settings()


# A process whose stop was already set (by itself) is sent SIGTERM, then hangs: the deadline
# still runs from that signal, and a second signal changes nothing.
HANGS_AFTER_ITS_STOP = """
import asyncio, os, signal, sys, time
from eventbridge.cli import install_stop_signals

async def main():
    stop = asyncio.Event()
    install_stop_signals(stop, deadline_s=0.5)
    stop.set()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.1)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.1)
    print("hanging", flush=True)
    time.sleep(30)  # a drain stuck in a library, the loop blocked

asyncio.run(main())
"""


def test_a_stop_past_its_deadline_exits_3_even_when_its_stop_was_already_set() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HANGS_AFTER_ITS_STOP],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == EXIT_STOP_TIMEOUT, done
    assert "hanging" in done.stdout, done
    assert "stop took longer than bridge.stop_timeout_s" in done.stderr, done
    assert "stop already requested" in done.stderr, done
