"""Circuit breaker over Redis availability (SPEC §5): a pure, time-injected state machine."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    """Closed lets calls through; open refuses them; half-open lets one probe through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class BreakerPolicy:
    """When to open (failure rate or count over a sliding window) and how long to stay open."""

    window_s: float = 10.0
    minimum_calls: int = 5
    failure_rate_threshold: float = 0.5
    cool_down_s: float = 30.0
    failure_count_threshold: int | None = None

    def __post_init__(self) -> None:
        _positive("window_s", self.window_s)
        _positive("cool_down_s", self.cool_down_s)
        if self.minimum_calls < 1:
            raise ValueError(f"minimum_calls must be >= 1, got {self.minimum_calls!r}")
        if not 0 < self.failure_rate_threshold <= 1:
            raise ValueError(
                f"failure_rate_threshold must be in (0, 1], got {self.failure_rate_threshold!r}"
            )
        if self.failure_count_threshold is not None and self.failure_count_threshold < 1:
            raise ValueError(
                f"failure_count_threshold must be >= 1, got {self.failure_count_threshold!r}"
            )

    @classmethod
    def from_seed(
        cls, failure_threshold: int, recovery_timeout: float, *, window_s: float = 10.0
    ) -> BreakerPolicy:
        """The seed's YAML: open after `failure_threshold` failures within the window, stay
        open `recovery_timeout` seconds. The rate rule is made unreachable before the count
        rule (all of at least `failure_threshold` calls failing implies the count)."""
        return cls(
            window_s=window_s,
            minimum_calls=failure_threshold,
            failure_rate_threshold=1.0,
            cool_down_s=recovery_timeout,
            failure_count_threshold=failure_threshold,
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of breaker state at time `at`, for telemetry and for pausing partitions."""

    old: BreakerState
    new: BreakerState
    at: float


class CircuitBreaker:
    """Opens on too many failures, half-opens by timer (`poll`), closes on a good probe."""

    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self._state = BreakerState.CLOSED
        self._calls: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def probe_due_at(self) -> float | None:
        """When open, the time the timer will let one probe through; otherwise None."""
        if self._state is BreakerState.OPEN:
            return self._opened_at + self.policy.cool_down_s
        return None

    def allow(self, now: float) -> bool:
        """Closed: yes. Open: no (never changes state here). Half-open: yes once, for the probe."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def poll(self, now: float) -> Transition | None:
        """The timer: once the cool-down has passed, an open breaker becomes half-open."""
        due = self.probe_due_at
        if due is not None and now >= due:
            self._probe_out = False
            return self._move(BreakerState.HALF_OPEN, now)
        return None

    def record_success(self, now: float) -> Transition | None:
        """Half-open: the probe succeeded, close with a clean window. Closed: count the call."""
        if self._state is BreakerState.HALF_OPEN:
            self._clear()
            return self._move(BreakerState.CLOSED, now)
        if self._state is BreakerState.CLOSED:
            self._add(now, ok=True)
        return None  # a late result while open changes nothing

    def record_failure(self, now: float) -> Transition | None:
        """Closed: open when the window's calls reach the minimum and the failure rate the
        threshold, or failures reach the count threshold. Half-open: re-open, new cool-down."""
        if self._state is BreakerState.HALF_OPEN:
            return self._open(now)
        if self._state is BreakerState.CLOSED:
            self._add(now, ok=False)
            policy = self.policy
            calls = len(self._calls)
            by_rate = (
                calls >= policy.minimum_calls
                and self._failures / calls >= policy.failure_rate_threshold
            )
            by_count = (
                policy.failure_count_threshold is not None
                and self._failures >= policy.failure_count_threshold
            )
            if by_rate or by_count:
                return self._open(now)
        return None

    def failure_rate(self, now: float) -> float:
        """Failures over calls within the last `window_s` (0.0 with no calls)."""
        self._prune(now)
        return self._failures / len(self._calls) if self._calls else 0.0

    def _add(self, now: float, *, ok: bool) -> None:
        self._calls.append((now, ok))
        if not ok:
            self._failures += 1
        self._prune(now)

    def _prune(self, now: float) -> None:
        # Calls at or before `now - window_s` have left the window; memory stays bounded by it.
        horizon = now - self.policy.window_s
        calls = self._calls
        while calls and calls[0][0] <= horizon:
            _, ok = calls.popleft()
            if not ok:
                self._failures -= 1

    def _clear(self) -> None:
        self._calls.clear()
        self._failures = 0

    def _open(self, now: float) -> Transition:
        self._opened_at = now
        self._clear()
        return self._move(BreakerState.OPEN, now)

    def _move(self, new: BreakerState, now: float) -> Transition:
        old, self._state = self._state, new
        return Transition(old, new, now)
