"""Replication of the topics EventBridge creates, and which static member a bridge is."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaError, KafkaTimeoutError, NotEnoughReplicasError, for_code

from adapters.kafka.dead_letters import _outcome
from adapters.kafka.errors import retriable
from adapters.kafka.membership import Membership, group_instance_id
from adapters.kafka.replication import Replication, ReplicationError, replication_for
from adapters.kafka.settings import KafkaSettings
from eventbridge.settings import SettingsError, load_settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [
        (1, Replication(1, 1)),
        (2, Replication(2, 1)),
        (3, Replication(3, 2)),
        (5, Replication(3, 2)),
    ],
)
def test_auto_replicates_to_at_most_three_brokers_with_two_in_sync_once_there_are_three(
    brokers: int, expected: Replication
) -> None:
    assert replication_for(brokers, "auto", "auto") == expected


def test_explicit_replication_is_kept_and_its_min_insync_is_set_on_the_topic() -> None:
    wanted = replication_for(5, 5, 3)
    assert wanted == Replication(5, 3)
    assert wanted.topic_configs == {"min.insync.replicas": "3"}
    assert replication_for(3, 2, "auto") == Replication(2, 1)


def test_more_replicas_than_live_brokers_is_an_error_naming_the_setting() -> None:
    with pytest.raises(ReplicationError, match=r"kafka\.replication_factor is 3 .* 1 live broker"):
        replication_for(1, 3, "auto")


def test_more_in_sync_than_replicas_is_an_error_naming_the_setting() -> None:
    with pytest.raises(ReplicationError, match=r"kafka\.min_insync_replicas is 2 .* 1 replica"):
        replication_for(1, "auto", 2)


def test_a_cluster_without_live_brokers_is_an_error() -> None:
    with pytest.raises(ReplicationError, match="no live broker"):
        replication_for(0, "auto", "auto")


def test_auto_instance_id_is_the_host_name_with_the_ordinal_when_one_is_set() -> None:
    assert group_instance_id(KafkaSettings(), hostname="eventbridge-bridge-2") == (
        "eventbridge-bridge-2"
    )
    with_ordinal = KafkaSettings(instance_ordinal=3)
    assert group_instance_id(with_ordinal, hostname="web1.example.com") == "web1.example.com-3"


def test_auto_instance_id_keeps_only_what_kafka_allows_and_fits_its_length() -> None:
    assert group_instance_id(KafkaSettings(), hostname="my host!(1)") == "my-host-1"
    assert group_instance_id(KafkaSettings(), hostname="???") == "eventbridge"
    long = group_instance_id(KafkaSettings(instance_ordinal=12), hostname="h" * 400)
    assert long is not None
    assert len(long) == 249
    assert long.endswith("h-12")


def test_an_explicit_instance_id_is_used_as_it_is_and_none_or_empty_turn_it_off() -> None:
    assert group_instance_id(KafkaSettings(group_instance_id="bridge-7"), hostname="x") == (
        "bridge-7"
    )
    for off in ("none", "", " None ", None):
        settings = KafkaSettings(group_instance_id=off)
        assert group_instance_id(settings, hostname="x") is None
        assert not settings.static_membership


def test_the_session_lasts_30_s_for_a_static_member_and_10_s_for_a_dynamic_one() -> None:
    assert KafkaSettings().effective_session_timeout_ms == 30_000
    assert KafkaSettings(group_instance_id="none").effective_session_timeout_ms == 10_000
    assert KafkaSettings(session_timeout_ms=45_000).effective_session_timeout_ms == 45_000


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"REPLICATION_FACTOR": "0"}, "eventbridge.kafka.replication_factor "),
        ({"MIN_INSYNC_REPLICAS": "two"}, "eventbridge.kafka.min_insync_replicas "),
        ({"GROUP_INSTANCE_ID": "bridge/1"}, "eventbridge.kafka.group_instance_id "),
        ({"INSTANCE_ORDINAL": "-1"}, "eventbridge.kafka.instance_ordinal "),
        ({"REPLICATION_FACTOR": "2", "MIN_INSYNC_REPLICAS": "3"}, "kafka.min_insync_replicas (3)"),
        ({"SESSION_TIMEOUT_MS": "2000"}, "eventbridge.kafka.heartbeat_interval_ms "),
    ],
)
def test_a_bad_kafka_setting_stops_startup_with_a_message_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], key: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"EVENTBRIDGE__KAFKA__{name}", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert key in str(caught.value)


def test_counts_come_from_env_as_text() -> None:
    settings = KafkaSettings.model_validate({"replication_factor": "3", "min_insync_replicas": 2})
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert KafkaSettings.model_validate({"replication_factor": "auto"}).replication_factor == (
        "auto"
    )


def _coordinator(member_id: str, generation: int = 4) -> SimpleNamespace:
    return SimpleNamespace(member_id=member_id, generation=generation)


def test_a_static_member_whose_member_id_changes_under_it_is_replaced() -> None:
    membership = Membership("vm-0", 30_000)
    membership.joined(_coordinator("m1"), [0, 2])
    membership.joined(_coordinator("m1", generation=5), [0])  # a rebalance: same member
    assert membership.replaced is None
    membership.joined(_coordinator("m2", generation=6), [0, 2])
    assert membership.replaced is not None
    assert "vm-0" in membership.replaced
    assert "kafka.instance_ordinal" in membership.replaced


def test_a_dynamic_member_given_a_new_member_id_carries_on() -> None:
    membership = Membership(None, 10_000)
    membership.joined(_coordinator("m1"), [0])
    membership.joined(_coordinator("m2"), [0])
    assert membership.replaced is None


def test_a_static_member_the_broker_fences_is_replaced_and_other_errors_are_not_fencing() -> None:
    fenced = for_code(82)()  # FENCED_INSTANCE_ID: aiokafka 0.14 answers UnknownError unpatched
    assert "FencedInstanceIdError" in repr(fenced)
    # How aiokafka's JoinGroup/SyncGroup and Heartbeat handlers raise a code they do not handle.
    for raised in (
        fenced,
        KafkaError(repr(fenced)),
        KafkaError(f"Unexpected exception in heartbeat task: {fenced!r}"),
    ):
        membership = Membership("vm-0", 30_000)
        why = membership.fenced(raised)
        assert why is not None
        assert "kafka.instance_ordinal" in why
        assert membership.replaced == why
    static = Membership("vm-0", 30_000)
    assert static.fenced(KafkaError(repr(for_code(-1)()))) is None  # an unknown server error
    assert static.replaced is None
    assert Membership(None, 10_000).fenced(fenced) is None  # a dynamic member has no instance id


def test_a_dead_letter_unanswered_in_time_is_a_retriable_timeout_and_an_answer_is_kept() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending, failed, done = loop.create_future(), loop.create_future(), loop.create_future()
        failed.set_exception(NotEnoughReplicasError())
        done.set_result(object())
        late = _outcome(pending, 2.0)
        assert isinstance(late, KafkaTimeoutError)
        assert retriable(late)
        assert isinstance(_outcome(failed, 2.0), NotEnoughReplicasError)
        assert _outcome(done, 2.0) is None
        pending.set_exception(NotEnoughReplicasError())  # later: fetched, so asyncio is quiet

    asyncio.run(scenario())
