"""What a gateway counts on its hot path: plain integers, read by telemetry when it collects."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.gateway.notices import NoticeKind

# What made a slow client's buffer full when it was cut off (a bounded metric label): its
# message count, its bytes, or the process's bytes over all connections.
BUFFER_BOUNDS = ("messages", "bytes", "process_bytes")


@dataclass(slots=True)
class GatewayCounts:
    """Events written to connections, notifications by what became of them (NoticeKind) and
    slow clients cut off by the bound that was full (BUFFER_BOUNDS): running totals since start;
    `buffered_bytes`: what every connection holds now (queued, or handed to its writer)."""

    sent: int = 0
    notices: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NoticeKind, 0))
    cuts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUFFER_BOUNDS, 0))
    buffered_bytes: int = 0


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
