"""The circuit breaker state machine (SPEC §5), time passed in as numbers."""

from __future__ import annotations

import pytest

from domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker, Transition

pytestmark = pytest.mark.unit

OPEN, CLOSED, HALF = BreakerState.OPEN, BreakerState.CLOSED, BreakerState.HALF_OPEN


def _opened(policy: BreakerPolicy | None = None, at: float = 0.0) -> CircuitBreaker:
    breaker = CircuitBreaker(policy or BreakerPolicy(minimum_calls=1))
    assert breaker.record_failure(at) == Transition(CLOSED, OPEN, at)
    return breaker


def test_breaker_starts_closed_and_allows_calls() -> None:
    breaker = CircuitBreaker()
    assert breaker.state is CLOSED
    assert breaker.allow(0.0)
    assert breaker.probe_due_at is None


def test_breaker_stays_closed_below_the_minimum_number_of_calls() -> None:
    breaker = CircuitBreaker()
    for t in range(4):
        assert breaker.record_failure(float(t)) is None
    assert breaker.state is CLOSED
    assert breaker.failure_rate(4.0) == 1.0


def test_breaker_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    breaker = CircuitBreaker()
    for t in range(3):
        breaker.record_success(float(t))
    assert breaker.record_failure(3.0) is None
    assert breaker.record_failure(4.0) is None  # 2 of 5 = 0.4
    assert breaker.record_failure(5.0) == Transition(CLOSED, OPEN, 5.0)  # 3 of 6 = 0.5
    assert not breaker.allow(5.0)


def test_breaker_forgets_calls_older_than_the_window() -> None:
    breaker = CircuitBreaker()
    for t in range(4):
        breaker.record_failure(float(t))
    # At t=13 the failures at 0..3 are more than 10 s old: one failure of one call.
    assert breaker.record_failure(13.5) is None
    assert breaker.failure_rate(13.5) == 1.0
    assert breaker.failure_rate(30.0) == 0.0
    assert breaker.state is CLOSED


def test_breaker_opens_on_the_failure_count_threshold_when_set() -> None:
    breaker = CircuitBreaker(BreakerPolicy(minimum_calls=100, failure_count_threshold=3))
    for t in range(20):
        breaker.record_success(t / 10)
    breaker.record_failure(2.0)
    breaker.record_failure(2.1)
    assert breaker.record_failure(2.2) == Transition(CLOSED, OPEN, 2.2)


def test_breaker_from_seed_opens_after_that_many_failures_in_the_window() -> None:
    policy = BreakerPolicy.from_seed(failure_threshold=5, recovery_timeout=60)
    assert policy.cool_down_s == 60
    breaker = CircuitBreaker(policy)
    for t in range(4):
        breaker.record_failure(float(t))
        breaker.record_success(float(t))
    assert breaker.state is CLOSED  # 4 failures, rate 0.5: the seed counts failures only
    assert breaker.record_failure(4.0) == Transition(CLOSED, OPEN, 4.0)
    assert breaker.probe_due_at == 64.0


def test_open_breaker_never_half_opens_inside_allow() -> None:
    breaker = _opened()
    assert not breaker.allow(1_000.0)
    assert breaker.state is OPEN


def test_breaker_half_opens_after_cool_down() -> None:
    breaker = _opened(at=5.0)
    assert breaker.probe_due_at == 35.0
    assert breaker.poll(34.9) is None
    assert breaker.poll(35.0) == Transition(OPEN, HALF, 35.0)
    no_probe_timer = breaker.probe_due_at is None  # (a name, so mypy does not narrow it)
    assert no_probe_timer
    assert breaker.poll(99.0) is None


def test_half_open_breaker_lets_exactly_one_probe_through() -> None:
    breaker = _opened()
    breaker.poll(30.0)
    assert breaker.allow(30.0)
    assert not breaker.allow(30.1)
    assert not breaker.allow(31.0)


def test_breaker_closes_on_probe_success_with_a_clean_window() -> None:
    breaker = _opened()
    breaker.poll(30.0)
    breaker.allow(30.0)
    assert breaker.record_success(30.5) == Transition(HALF, CLOSED, 30.5)
    assert breaker.allow(30.6)
    assert breaker.failure_rate(30.6) == 0.0


def test_breaker_reopens_on_probe_failure_with_a_fresh_cool_down() -> None:
    breaker = _opened()
    breaker.poll(30.0)
    breaker.allow(30.0)
    assert breaker.record_failure(31.0) == Transition(HALF, OPEN, 31.0)
    assert breaker.probe_due_at == 61.0
    assert breaker.poll(60.0) is None
    assert breaker.poll(61.0) == Transition(OPEN, HALF, 61.0)
    assert breaker.allow(61.0)  # a new probe after the new cool-down


def test_late_results_while_open_change_nothing() -> None:
    breaker = _opened()
    assert breaker.record_success(1.0) is None
    assert breaker.record_failure(2.0) is None
    assert breaker.state is OPEN
    assert breaker.probe_due_at == 30.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window_s", 0.0),
        ("window_s", float("nan")),
        ("cool_down_s", -1.0),
        ("minimum_calls", 0),
        ("failure_rate_threshold", 0.0),
        ("failure_rate_threshold", 1.5),
        ("failure_count_threshold", 0),
    ],
)
def test_breaker_policy_refuses_bad_values_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        BreakerPolicy(**{field: value})  # type: ignore[arg-type]
