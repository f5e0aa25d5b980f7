"""When a background loop that died is restarted, and when the process gives up on it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """`backoff_s` doubles with each recent death (capped); more than `max_restarts` deaths
    within `window_s` and the loop is given up (the process then exits non-zero)."""

    max_restarts: int = 5
    window_s: float = 300.0
    backoff_s: float = 0.5
    backoff_cap_s: float = 30.0

    def recent(self, deaths: tuple[float, ...], now: float) -> tuple[float, ...]:
        """The deaths (times, oldest first) still inside the window at `now`."""
        return tuple(t for t in deaths if t >= now - self.window_s)

    def delay(self, recent: tuple[float, ...]) -> float | None:
        """After the last of `recent` deaths: how long to wait before the restart, or None to
        give up (more deaths within the window than the policy tolerates)."""
        if len(recent) > self.max_restarts:
            return None
        return min(self.backoff_s * 2.0 ** (len(recent) - 1), self.backoff_cap_s)
