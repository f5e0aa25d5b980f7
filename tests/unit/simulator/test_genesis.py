"""The Genesis traffic generator: reproducible, paced, realistic, and honest about each record."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from simulator.genesis import (
    BAD_KINDS,
    GOOD_KINDS,
    SimRecord,
    TrafficConfig,
    generate,
    generate_n,
)

pytestmark = pytest.mark.unit

FIXED = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
UNPARSEABLE = {"bad_json", "invalid_utf8"}


def fixed_clock() -> datetime:
    return FIXED


@pytest.fixture(scope="module")
def sample() -> list[SimRecord]:
    return generate_n(6000, seed=11, users=40, bad_ratio=0.05, clock=fixed_clock)


def parse(record: SimRecord) -> Any:
    return orjson.loads(record.value)


def declared_user(body: dict[str, Any]) -> str | None:
    """SPEC §3: server-set fields first; the payload only counts in the nested format."""
    if body.get("user_id"):
        return str(body["user_id"])
    if (body.get("metadata") or {}).get("user_id"):
        return str(body["metadata"]["user_id"])
    if "aggregate_type" not in body and isinstance(body.get("payload"), dict):
        user = body["payload"].get("user_id")
        return str(user) if user is not None else None
    return None


def test_the_same_seed_gives_the_same_records() -> None:
    config = TrafficConfig(seed=3, users=10, duration_s=20)
    first = list(generate(config, clock=fixed_clock))
    second = list(generate(config, clock=fixed_clock))
    assert first == second
    assert len(first) > 100


def test_a_different_seed_gives_different_records() -> None:
    first = generate_n(200, seed=1, clock=fixed_clock)
    second = generate_n(200, seed=2, clock=fixed_clock)
    assert [r.value for r in first] != [r.value for r in second]
    assert {r.key for r in first}.isdisjoint({r.key for r in second})


def test_only_the_timestamps_depend_on_the_clock() -> None:
    later = datetime(2031, 6, 1, tzinfo=UTC)
    first = generate_n(1000, seed=5, bad_ratio=0.2, clock=fixed_clock)
    second = generate_n(1000, seed=5, bad_ratio=0.2, clock=lambda: later)
    assert [r.expect for r in first] == [r.expect for r in second]
    assert [r.value for r in first] != [r.value for r in second]
    for a, b in zip(first, second, strict=True):
        restamped = a.value.replace(b"2030-01-02T03:04:05.678901", b"2031-06-01T00:00:00.000000")
        assert restamped == b.value


def test_each_record_is_stamped_by_the_clock_when_it_is_taken() -> None:
    calls: list[int] = []

    def counting_clock() -> datetime:
        calls.append(1)
        return FIXED

    records = generate(TrafficConfig(), clock=counting_clock)
    list(itertools.islice(records, 5))
    assert len(calls) == 5


def test_timestamps_are_iso_utc_with_microseconds(sample: list[SimRecord]) -> None:
    for record in sample:
        if record.expect.kind in UNPARSEABLE | {"not_an_object"}:
            continue
        body = parse(record)
        stamps = [body.get("created_at"), body.get("timestamp")]
        if isinstance(body.get("payload"), dict):
            stamps.append(body["payload"].get("timestamp"))
        present = [s for s in stamps if s is not None]
        assert present
        for stamp in present:
            assert datetime.fromisoformat(stamp) == FIXED
            assert stamp.endswith(("Z", "+00:00"))
            assert ".678901" in stamp


def test_records_come_in_non_decreasing_time_and_stop_at_the_duration() -> None:
    records = list(generate(TrafficConfig(users=30, rate=80, duration_s=30), clock=fixed_clock))
    times = [r.at for r in records]
    assert times == sorted(times)
    assert times[0] >= 0
    assert times[-1] < 30


@pytest.mark.parametrize(
    ("users", "rate"), [(20, 50.0), (5, 200.0), (100, 20.0), (200, 1000.0), (1, 2.0)]
)
def test_the_rate_over_the_duration_is_close_to_the_target(users: int, rate: float) -> None:
    duration = 60.0
    config = TrafficConfig(seed=users, users=users, rate=rate, duration_s=duration)
    count = sum(1 for _ in generate(config, clock=fixed_clock))
    assert count / duration == pytest.approx(rate, rel=0.25)


@pytest.mark.parametrize("bad_ratio", [0.02, 0.1, 0.3])
def test_the_share_of_bad_records_follows_bad_ratio(bad_ratio: float) -> None:
    records = generate_n(20_000, seed=9, bad_ratio=bad_ratio, clock=fixed_clock)
    bad = sum(r.expect.kind in BAD_KINDS for r in records)
    assert bad / len(records) == pytest.approx(bad_ratio, rel=0.2)


def test_a_zero_bad_ratio_makes_only_good_traffic() -> None:
    records = generate_n(3000, bad_ratio=0.0, clock=fixed_clock)
    assert {r.expect.kind for r in records} <= GOOD_KINDS


def test_every_bad_kind_appears_with_its_verdict(sample: list[SimRecord]) -> None:
    verdicts = {(r.expect.kind, r.expect.outcome, r.expect.reason) for r in sample}
    assert {
        ("bad_json", "invalid", "invalid_json"),
        ("invalid_utf8", "invalid", "invalid_utf8"),
        ("missing_event_id", "invalid", "missing_field"),
        ("bad_uuid", "invalid", "bad_uuid"),
        ("not_an_object", "invalid", "not_an_object"),
        ("oversized", "invalid", "oversized"),
        ("unknown_type", "ignored", "not_whitelisted"),
        ("non_session", "ignored", "not_session_event"),
        ("foreign_user", "delivered", None),
        ("orphan_agent", "invalid", "no_user"),
    } <= verdicts


def test_values_are_json_objects_except_the_deliberately_broken(sample: list[SimRecord]) -> None:
    for record in sample:
        kind = record.expect.kind
        if kind in UNPARSEABLE:
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(record.value)
        elif kind == "not_an_object":
            assert not isinstance(parse(record), dict)
        else:
            assert isinstance(parse(record), dict)


def test_invalid_utf8_records_are_not_utf8(sample: list[SimRecord]) -> None:
    broken = [r for r in sample if r.expect.kind == "invalid_utf8"]
    assert broken
    for record in broken:
        with pytest.raises(UnicodeDecodeError):
            record.value.decode("utf-8")


def test_every_delivered_record_names_its_user_and_event(sample: list[SimRecord]) -> None:
    delivered = [r for r in sample if r.expect.outcome == "delivered"]
    assert len(delivered) > len(sample) // 2
    for record in delivered:
        body = parse(record)
        assert record.expect.user_id
        assert record.expect.event_id == body["event_id"]
        assert record.expect.event_type == body["event_type"]
        assert record.expect.session_id == record.key.decode()


def test_events_without_a_user_come_after_one_that_teaches_the_owner(
    sample: list[SimRecord],
) -> None:
    owners: dict[bytes, str] = {}
    routed_by_owner = 0
    for record in sample:
        if record.expect.kind in UNPARSEABLE | {"not_an_object"}:
            continue
        body = parse(record)
        user = declared_user(body)
        if record.expect.outcome != "delivered":
            continue
        if user is None:
            routed_by_owner += 1
            assert owners.get(record.key) == record.expect.user_id
        else:
            assert user == record.expect.user_id
            owners.setdefault(record.key, user)
    assert routed_by_owner > 100


def test_agent_proposals_carry_no_user_id_anywhere(sample: list[SimRecord]) -> None:
    proposals = [r for r in sample if r.expect.kind == "agent_proposal"]
    assert proposals
    for record in proposals:
        assert b"user_id" not in record.value


def test_a_foreign_user_id_in_a_client_payload_is_delivered_to_the_real_owner(
    sample: list[SimRecord],
) -> None:
    hijacks = [r for r in sample if r.expect.kind == "foreign_user"]
    assert hijacks
    for record in hijacks:
        body = parse(record)
        assert body["payload"]["user_id"] != body["user_id"]
        assert record.expect.user_id == body["user_id"] == body["metadata"]["user_id"]


def test_orphans_and_other_bad_records_live_in_sessions_of_their_own(
    sample: list[SimRecord],
) -> None:
    keys = Counter(r.key for r in sample)
    isolated = [r for r in sample if r.expect.kind in BAD_KINDS - {"foreign_user"}]
    assert isolated
    assert all(keys[r.key] == 1 for r in isolated)


def test_an_oversized_record_exceeds_the_configured_size() -> None:
    config = TrafficConfig(users=50, bad_ratio=0.3, duration_s=120, oversize_bytes=80_000)
    oversized = [r for r in generate(config, clock=fixed_clock) if r.expect.kind == "oversized"]
    assert oversized
    for record in oversized:
        assert len(parse(record)["payload"]["user_input"]) == 80_000
        assert len(record.value) > 80_000


def test_types_outside_the_whitelist_are_expected_to_be_ignored(sample: list[SimRecord]) -> None:
    by_suffix = {
        r.expect.event_type.rsplit(".", 1)[-1]: r.expect
        for r in sample
        if r.expect.event_type and r.expect.kind in GOOD_KINDS
    }
    assert by_suffix["Failed"].outcome == "ignored"
    assert by_suffix["Failed"].reason == "not_whitelisted"
    assert by_suffix["RegenerationRequested"].outcome == "ignored"
    assert by_suffix["Proposed"].outcome == "delivered"
    stage_failed = [r for r in sample if r.expect.kind == "stage_failed"]
    assert stage_failed
    assert {r.expect.reason for r in stage_failed} == {"not_whitelisted"}


def test_flat_records_carry_the_outbox_headers(sample: list[SimRecord]) -> None:
    for record in sample:
        if record.expect.kind in UNPARSEABLE | {"not_an_object"}:
            continue
        body = parse(record)
        if "aggregate_type" not in body:
            continue
        headers = dict(record.headers)
        assert headers["event_type"].decode() == body["event_type"]
        assert headers["version"] == b"1"
        assert headers["correlation_id"]


def test_a_command_and_its_request_share_a_correlation_id(sample: list[SimRecord]) -> None:
    last_command: dict[bytes, bytes] = {}
    checked = 0
    for record in sample:
        headers = dict(record.headers)
        if record.expect.kind in {"command", "foreign_user"}:
            last_command[record.key] = headers["correlation_id"]
        elif record.expect.kind == "request":
            assert headers["correlation_id"] == last_command[record.key]
            checked += 1
    assert checked


@pytest.mark.parametrize("n", [0, 1, 137, 2500])
def test_generate_n_returns_exactly_n_records(n: int) -> None:
    assert len(generate_n(n, clock=fixed_clock)) == n


def test_the_mix_of_kinds_is_realistic() -> None:
    records = generate_n(2000, clock=fixed_clock)
    kinds = Counter(r.expect.kind for r in records)
    share = {kind: count / len(records) for kind, count in kinds.items()}
    assert 0.15 < share["command"] < 0.45
    assert 0.10 < share["request"] + share.get("update", 0) + share.get("revision", 0) < 0.45
    assert share["agent_proposal"] > 0.05
    assert kinds["agent_confirmed"] > 0
    assert kinds["nested_started"] > 0
    assert kinds["nested_proposal"] > 0
    assert kinds["user_confirm"] > 0
    assert kinds["stage_confirmed"] > 0


def test_every_session_walks_the_stages_in_order(sample: list[SimRecord]) -> None:
    order = ["INITIAL_PROMPT", "WORLDVIEW", "CHARACTERS", "PLOT_OUTLINE", "FINISHED"]
    reached: dict[bytes, int] = {}
    for record in sample:
        if record.expect.kind not in {"command", "foreign_user"}:
            continue
        stage = order.index(parse(record)["payload"]["stage"])
        assert stage >= reached.get(record.key, 0)
        reached[record.key] = stage
    assert max(reached.values()) == len(order) - 1


@pytest.mark.parametrize(
    "bad",
    [
        {"users": 0},
        {"rate": 0.0},
        {"duration_s": -1.0},
        {"bad_ratio": 1.0},
        {"think_time_s": (3.0, 1.0)},
        {"burst_probability": 1.5},
    ],
)
def test_a_nonsensical_config_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrafficConfig(**bad)
