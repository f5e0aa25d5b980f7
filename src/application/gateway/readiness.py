"""Readiness: what the gateway's `/readyz` is made of."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Readiness:
    """What `/readyz` reports: ready only when Redis answers, the subscription is confirmed,
    every background loop runs and the gateway is not draining."""

    redis: bool
    subscribed: bool
    tasks: dict[str, bool]
    draining: bool
    connections: int
    redis_error: str | None = None  # why Redis counts as down (a Cluster: which master, slots)

    @property
    def ready(self) -> bool:
        tasks_up = bool(self.tasks) and all(self.tasks.values())
        return self.redis and self.subscribed and tasks_up and not self.draining
