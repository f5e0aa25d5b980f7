"""What a gateway counts on its hot path: plain integers, read by telemetry when it collects."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.gateway.notices import NoticeKind


@dataclass(slots=True)
class GatewayCounts:
    """Events written to connections, and notifications by what became of them (NoticeKind);
    running totals since start."""

    sent: int = 0
    notices: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NoticeKind, 0))


class Sampler:
    """One write in `every` records its latencies (one histogram observation costs several
    microseconds, a large share of a write): counted, not timed, so a burst of writes (one
    bridge batch reaching many connections) is sampled all along, not only at its start."""

    def __init__(self, every: int = 50) -> None:
        self._every = every
        self._left = 0

    def due(self) -> bool:
        if self._left:
            self._left -= 1
            return False
        self._left = self._every - 1
        return True
