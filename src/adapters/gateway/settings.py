"""The `gateway` and `auth` settings slices."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AuthSettings(BaseModel):
    """How the gateway authenticates a browser or a client (SPEC §8). No secret has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"] = (
        "HS256"
    )
    secret: SecretStr | None = Field(default=None, description="HS* shared secret")
    public_key: SecretStr | None = Field(default=None, description="RS*/ES* PEM public key")
    user_claim: str = Field(default="sub", min_length=1)
    audience: str | None = None
    issuer: str | None = None
    leeway_s: float = Field(
        default=0.0, ge=0, description="Clock skew tolerated on nbf/iat (never on exp)"
    )
    ticket_ttl_s: int = Field(default=30, ge=1, le=600)
    cookie_name: str | None = Field(default=None, description="Cookie holding a JWT, if used")


class GatewaySettings(BaseModel):
    """The SSE endpoint's network, limits and timings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    heartbeat_s: float = Field(default=15.0, gt=0)
    retry_ms: int = Field(default=3000, ge=0)
    max_connections_per_user: int = Field(default=5, ge=1)
    lease_s: float = Field(default=45.0, gt=0)
    send_buffer: int = Field(default=256, ge=1, description="Messages queued per connection")
    send_buffer_bytes: int = Field(
        default=262_144,
        ge=4096,
        description="Bytes a connection may hold, queued or being written (a client that leaves "
        "them unread for slow_client_s is cut off)",
    )
    send_buffer_total_bytes: int = Field(
        default=268_435_456,
        ge=0,
        description="Bytes all connections may hold together (0: no bound); past it, a "
        "connection that is behind waits as if its own buffer were full",
    )
    history_max: int = Field(default=1000, ge=0)
    replay_page: int = Field(default=500, ge=1)
    drain_s: float = Field(default=5.0, ge=0)
    slow_client_s: float = Field(
        default=5.0, gt=0, description="How long a full send buffer may stay full before cut-off"
    )
    task_max_restarts: int = Field(
        default=5,
        ge=0,
        description="Deaths of one background loop tolerated per window before the process exits",
    )
    task_restart_window_s: float = Field(default=300.0, gt=0)
    task_restart_backoff_s: float = Field(
        default=0.5, gt=0, description="First restart delay of a dead loop; doubles each time"
    )
    demo_enabled: bool = Field(
        default=False, description="Serve /demo and its dev token (dev only)"
    )
    demo_user: str = Field(default="1", pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")
    demo_token_ttl_s: int = Field(default=600, ge=1, description="Lifetime of a demo token")
