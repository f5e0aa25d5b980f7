"""The settings of the bridge's Kafka metadata age, its retry backoff and the Redis eviction
override: defaults that protect a user, bounds that name the key."""

from __future__ import annotations

import pytest

from eventbridge.settings import SettingsError, load_settings
from eventbridge.wiring.bridge import bridge_policy

pytestmark = pytest.mark.unit


def test_the_defaults_see_new_partitions_in_30_s_back_off_to_30_s_and_refuse_eviction() -> None:
    settings = load_settings()
    assert settings.kafka.metadata_max_age_ms == 30_000
    assert settings.redis.allow_eviction is False
    policy = bridge_policy(settings)
    assert (policy.retry_backoff_s, policy.retry_backoff_max_s) == (0.5, 30.0)


@pytest.mark.parametrize("value", [0, 999, 2**31])
def test_a_metadata_age_out_of_range_names_the_key(
    monkeypatch: pytest.MonkeyPatch, value: int
) -> None:
    monkeypatch.setenv("EVENTBRIDGE__KAFKA__METADATA_MAX_AGE_MS", str(value))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "eventbridge.kafka.metadata_max_age_ms" in str(caught.value)
    assert "EVENTBRIDGE__KAFKA__METADATA_MAX_AGE_MS" in str(caught.value)


def test_a_retry_backoff_maximum_that_is_not_positive_names_the_key() -> None:
    with pytest.raises(SettingsError, match=r"eventbridge\.bridge\.retry_backoff_max_s"):
        load_settings(bridge={"retry_backoff_max_s": 0})


def test_allow_eviction_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTBRIDGE__REDIS__ALLOW_EVICTION", "true")
    assert load_settings().redis.allow_eviction is True
