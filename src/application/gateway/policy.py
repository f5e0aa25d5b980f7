"""GatewayPolicy: the gateway's timings and bounds, built once from its settings slice."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GatewayPolicy:
    """Heartbeat period, per-connection bounds, replay page size, drain and ticket lifetimes."""

    heartbeat_s: float = 15.0
    retry_ms: int = 3000
    send_buffer: int = 256  # frames queued per connection
    send_buffer_bytes: int = 262_144  # bytes a connection holds (queued and being written)
    send_buffer_total_bytes: int = 268_435_456  # bytes all connections hold; 0: no bound
    slow_client_s: float = 5.0  # how long a full buffer may stay full before the cut-off
    replay_page: int = 500
    drain_s: float = 5.0
    ticket_ttl_s: int = 30
    subscribe_wait_s: float = 1.0  # how long a new connection waits for its user's subscription

    def __post_init__(self) -> None:
        for name in ("send_buffer", "send_buffer_bytes", "replay_page", "ticket_ttl_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.send_buffer_total_bytes < 0:
            raise ValueError("send_buffer_total_bytes must be at least 0")
        for name in ("heartbeat_s", "slow_client_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
