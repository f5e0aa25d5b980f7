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
    fetch_max_wait_ms: int = Field(default=100, ge=0)
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    metadata_max_age_ms: int = Field(
        default=30_000,
        ge=1000,
        le=2**31 - 1,
        description="Refresh topic metadata at least this often: partitions added to the topic "
        "(or a topic created again) are seen within it (aiokafka's default: 5 minutes)",
    )

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic}.dlq"
