"""The `kafka` settings slice (names follow the seed's YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KafkaSettings(BaseModel):
    """Where the domain topic is and how the bridge consumes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1)
    topic: str = Field(default="genesis.domain.events", min_length=1)
    group_id: str = Field(default="eventbridge-consumer", min_length=1)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    client_id: str = "eventbridge"
    dlq_topic: str | None = Field(default=None, description="Default: '<topic>.dlq'")
    create_dlq_topic: bool = Field(default=True, description="Create the DLQ topic when missing")
    dlq_partitions: int = Field(default=1, ge=1)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    max_partition_fetch_bytes: int = Field(default=1_048_576, ge=1024)
    # Real time (docs/benchmarks.md, "Latency sweep"): with fetch_min_bytes 1 the broker
    # answers a waiting fetch as soon as one record is there; fetch_max_wait_ms only bounds
    # how long a fetch waits when none comes. A larger fetch_min_bytes trades latency (up to
    # fetch_max_wait_ms per event at low rates) for fewer, larger fetches.
    fetch_min_bytes: int = Field(default=1, ge=1)
    fetch_max_wait_ms: int = Field(default=100, ge=0)
    request_timeout_ms: int = Field(default=30_000, ge=1000)

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic}.dlq"
