"""The breaker agrees with a deliberately naive reference model over random histories."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker, Transition

pytestmark = pytest.mark.unit


@dataclass
class Model:
    """Recomputes everything from the full call history: slow, obviously right."""

    policy: BreakerPolicy
    state: BreakerState = BreakerState.CLOSED
    history: list[tuple[float, bool]] = field(default_factory=list)  # since last (re)close
    opened_at: float = 0.0
    probe_out: bool = False

    def window(self, now: float) -> list[bool]:
        return [ok for t, ok in self.history if t > now - self.policy.window_s]

    def allow(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self.probe_out:
            self.probe_out = True
            return True
        return False

    def move(self, new: BreakerState, now: float) -> Transition:
        old, self.state = self.state, new
        return Transition(old, new, now)

    def poll(self, now: float) -> Transition | None:
        if self.state is BreakerState.OPEN and now >= self.opened_at + self.policy.cool_down_s:
            self.probe_out = False
            return self.move(BreakerState.HALF_OPEN, now)
        return None

    def success(self, now: float) -> Transition | None:
        if self.state is BreakerState.HALF_OPEN:
            self.history = []
            return self.move(BreakerState.CLOSED, now)
        if self.state is BreakerState.CLOSED:
            self.history.append((now, True))
        return None

    def failure(self, now: float) -> Transition | None:
        if self.state is BreakerState.OPEN:
            return None
        if self.state is BreakerState.CLOSED:
            self.history.append((now, False))
            calls = self.window(now)
            failures = calls.count(False)
            count_rule = self.policy.failure_count_threshold
            if not (
                (
                    len(calls) >= self.policy.minimum_calls
                    and failures / len(calls) >= self.policy.failure_rate_threshold
                )
                or (count_rule is not None and failures >= count_rule)
            ):
                return None
        self.opened_at = now
        self.history = []
        return self.move(BreakerState.OPEN, now)

    def rate(self, now: float) -> float:
        calls = self.window(now)
        return calls.count(False) / len(calls) if calls else 0.0


POLICIES = st.builds(
    BreakerPolicy,
    window_s=st.integers(1, 20).map(float),
    minimum_calls=st.integers(1, 6),
    failure_rate_threshold=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
    cool_down_s=st.integers(1, 30).map(float),
    failure_count_threshold=st.none() | st.integers(1, 6),
)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["advance", "success", "failure", "poll", "allow"]),
        st.integers(0, 12).map(lambda n: n / 2),
    ),
    max_size=80,
)


@settings(deadline=None, max_examples=200)
@given(policy=POLICIES, ops=OPS)
def test_breaker_matches_the_reference_model(
    policy: BreakerPolicy, ops: list[tuple[str, float]]
) -> None:
    breaker, model, now = CircuitBreaker(policy), Model(policy), 0.0
    for op, step in ops:
        if op == "advance":
            now += step
        elif op == "success":
            assert breaker.record_success(now) == model.success(now)
        elif op == "failure":
            assert breaker.record_failure(now) == model.failure(now)
        elif op == "poll":
            assert breaker.poll(now) == model.poll(now)
        else:
            assert breaker.allow(now) == model.allow()
        assert breaker.state is model.state
        assert breaker.failure_rate(now) == model.rate(now)
        expected_due = model.opened_at + policy.cool_down_s
        assert breaker.probe_due_at == (expected_due if model.state is BreakerState.OPEN else None)
