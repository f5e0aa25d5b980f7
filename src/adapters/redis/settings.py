"""The `redis` settings slice."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RedisSettings(BaseModel):
    """Where Redis is and how EventBridge lays out its keys (docs/redis-contract.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default="redis://127.0.0.1:6379/0", description="redis:// or rediss:// URL")
    cluster: bool = Field(default=False, description="Connect with the Redis Cluster client")
    sse_prefix: str = Field(
        default="sse:user:", min_length=1, description="Prefix of per-user keys"
    )
    session_prefix: str = Field(default="sse:session:", min_length=1)
    ticket_prefix: str = Field(default="sse:ticket:", min_length=1)
    channel_ttl: int = Field(
        default=3600, ge=1, description="TTL (s) of user keys, refreshed on write"
    )
    stream_maxlen: int = Field(default=1000, ge=1, description="Approximate entries kept per user")
    dedup_window: int = Field(default=10000, ge=1, description="Event ids remembered per user")
    owner_ttl_s: int = Field(default=86400, ge=1, description="TTL of the session→owner index")
    socket_timeout_s: float = Field(default=2.0, gt=0)
    connect_timeout_s: float = Field(default=1.0, gt=0)
    max_connections: int = Field(default=64, ge=1)
    allow_eviction: bool = Field(
        default=False,
        description="Start even when Redis's maxmemory-policy evicts keys (anything but "
        "noeviction), which breaks exactly-once, resume and session routing under memory "
        "pressure; refused at start otherwise",
    )
    # Durable acknowledgement (SPEC §7, §14): each write is followed by WAIT on its connection.
    min_replicas: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Replicas that must confirm each write (WAIT) before its offsets may be "
        "committed; 0: the master's acknowledgement is enough (asynchronous replication)",
    )
    replica_timeout_ms: int = Field(
        default=250,
        ge=1,
        description="How long one write's WAIT waits for redis.min_replicas replicas; "
        "fewer by then is a failed write (retried, counted by the breaker)",
    )
