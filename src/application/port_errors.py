"""The errors ports raise: what failed, and whether trying again may succeed."""

from __future__ import annotations


class PortError(Exception):
    """Base of every error a port raises; `retriable` says whether trying again may succeed."""

    retriable: bool = True

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class StoreUnavailable(PortError):
    """Redis could not be reached or did not answer in time: the only error the breaker counts."""


class ReplicasShort(StoreUnavailable):
    """Redis took a write, but fewer than the configured replicas confirmed it in time (WAIT):
    it is not durable, so it failed like an outage (retriable: the write is idempotent).
    `wanted` replicas were asked for; `acked` is the fewest that confirmed on any node written."""

    def __init__(self, message: str, *, wanted: int, acked: int) -> None:
        super().__init__(message, retriable=True)
        self.wanted = wanted
        self.acked = acked


class SourceUnavailable(PortError):
    """Kafka could not be reached, or a commit failed."""


class DeadLetterUnavailable(PortError):
    """The dead-letter topic did not acknowledge a write."""
