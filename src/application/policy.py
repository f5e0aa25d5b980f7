"""BridgePolicy: how the bridge batches, commits and behaves while Redis is unavailable."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OpenPolicy(StrEnum):
    """What the bridge does while the breaker is open (SPEC §5)."""

    PAUSE = "pause"  # pause partitions, commit nothing past what Redis acknowledged
    DROP = "drop"  # keep consuming, count each event dropped, commit


@dataclass(frozen=True, slots=True)
class BridgePolicy:
    """Batching, committing and outage behaviour of one bridge process."""

    max_batch: int = 1000
    fetch_timeout_s: float = 0.2
    commit_every_records: int = 2000
    commit_interval_s: float = 1.0
    on_open: OpenPolicy = OpenPolicy.PAUSE
    retry_backoff_s: float = 0.5
    # Each failed retry doubles the wait, up to this: an outage that lasts (a dead-letter topic
    # deleted for good) is retried slowly, never in a loop; recovery comes within this bound.
    retry_backoff_max_s: float = 30.0
    # Records waiting for a retry (a failed write, and what came behind it): at this bound the
    # partitions pause whatever the policy, so no outage can grow it without end.
    max_backlog_records: int = 10_000
    # ... and the bytes they hold (key, value and headers): a bound on memory, not on a count
    # that 1 MiB records make 10 GiB.
    max_backlog_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in (
            "max_batch",
            "commit_every_records",
            "max_backlog_records",
            "max_backlog_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "fetch_timeout_s",
            "commit_interval_s",
            "retry_backoff_s",
            "retry_backoff_max_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
