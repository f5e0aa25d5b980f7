"""Lease arithmetic, credential expiry, ticket lifetimes, the session filter, restarts."""

from __future__ import annotations

import pytest

from domain.gateway.credentials import (
    expired,
    expiry_of,
    stream_deadline,
    ticket_ttl_s,
    valid_ticket,
)
from domain.gateway.entries import Entry, event_age, of_session
from domain.gateway.leases import LeasePolicy
from domain.gateway.restarts import RestartPolicy

pytestmark = pytest.mark.unit


def test_a_lease_expires_lease_s_after_it_was_taken_in_unix_ms() -> None:
    policy = LeasePolicy(limit=2, lease_s=45)
    assert policy.expiry_ms(1000.5) == 1_045_500
    assert policy.lease_ms == 45_000


def test_retry_after_is_whole_seconds_between_one_and_an_hour() -> None:
    assert LeasePolicy.retry_after_s(1) == 1
    assert LeasePolicy.retry_after_s(0) == 1
    assert LeasePolicy.retry_after_s(1001) == 2
    assert LeasePolicy.retry_after_s(10**9) == 3600


def test_leases_are_renewed_well_inside_their_lifetime() -> None:
    assert LeasePolicy(lease_s=45).renew_every_s(heartbeat_s=15) == 15
    assert LeasePolicy(lease_s=3).renew_every_s(heartbeat_s=15) == 1


def test_a_lease_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="limit"):
        LeasePolicy(limit=0)
    with pytest.raises(ValueError, match="lease_s"):
        LeasePolicy(lease_s=float("nan"))


def test_a_credential_is_refused_from_its_exp_on() -> None:
    assert expired(100.0, now=100.0)
    assert not expired(100.0, now=99.9)


def test_an_exp_that_is_not_a_finite_time_is_none() -> None:
    assert expiry_of(1700000000) == 1700000000.0
    assert expiry_of("1700000000") == 1700000000.0
    for bad in (None, "soon", float("inf"), float("nan"), [1], 10**400):
        assert expiry_of(bad) is None, bad


def test_a_ticket_never_outlives_its_credential() -> None:
    assert ticket_ttl_s(expires_at=1000.0, now=900.0, ttl_max_s=30) == 30
    assert ticket_ttl_s(expires_at=1000.0, now=998.5, ttl_max_s=30) == 2
    assert ticket_ttl_s(expires_at=1000.0, now=1000.0, ttl_max_s=30) is None


def test_the_stream_deadline_is_the_credentials_exp_on_the_monotonic_clock() -> None:
    assert stream_deadline(expires_at=1010.0, now=1000.0, monotonic_now=5.0) == 15.0


def test_tickets_are_only_what_the_gateway_issues() -> None:
    assert valid_ticket("t" * 43)
    assert not valid_ticket("t" * 10)
    assert not valid_ticket("t" * 42 + "\n")


def test_the_session_filter_keeps_one_sessions_entries_and_no_filter_keeps_all() -> None:
    a, b = Entry(b"1-0", b"T", b"a", b"{}"), Entry(b"2-0", b"T", b"b", b"{}")
    assert of_session([a, b], None) == [a, b]
    assert of_session([a, b], b"b") == [b]


def test_an_events_age_comes_from_the_timestamp_in_its_data() -> None:
    data = b'{"event_id":"e","timestamp":"2026-01-01T00:00:00+00:00","payload":{}}'
    assert event_age(data, now=1767225610.0) == pytest.approx(10.0)
    assert event_age(b'{"timestamp":"soon"}', now=0.0) is None
    assert event_age(b"{}", now=0.0) is None


def test_a_restart_waits_longer_after_each_recent_death_and_gives_up_past_the_bound() -> None:
    policy = RestartPolicy(max_restarts=3, window_s=100, backoff_s=0.5, backoff_cap_s=1.5)
    assert policy.delay((1.0,)) == 0.5
    assert policy.delay((1.0, 2.0)) == 1.0
    assert policy.delay((1.0, 2.0, 3.0)) == 1.5  # capped
    assert policy.delay((1.0, 2.0, 3.0, 4.0)) is None
    assert policy.recent((1.0, 50.0, 150.0), now=150.0) == (50.0, 150.0)
