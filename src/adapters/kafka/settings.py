"""The `kafka` settings slice (names follow the seed's YAML)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator, model_validator

AUTO: Literal["auto"] = "auto"
# Kafka's own rule for a group.instance.id (JoinGroupRequest.validateGroupInstanceId).
INSTANCE_ID = re.compile(r"[a-zA-Z0-9._-]{1,249}")
DISABLED = ("", "none")


def _count_or_auto(value: object) -> int | Literal["auto"]:
    """'auto', or a whole number of at least 1 (from YAML, or from env as text)."""
    if value == AUTO:
        return AUTO
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("must be 'auto' or a whole number of at least 1")
    return value


# One validator, so that an error names the key alone (a union would add each member's name).
CountOrAuto = Annotated[int | Literal["auto"], PlainValidator(_count_or_auto)]


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
    replication_factor: CountOrAuto = Field(
        default=AUTO,
        description="Replicas of each topic EventBridge creates; auto: min(3, live brokers)",
    )
    min_insync_replicas: CountOrAuto = Field(
        default=AUTO,
        description="min.insync.replicas of each topic EventBridge creates; auto: 2 when it "
        "has 3 or more replicas, else 1",
    )
    group_instance_id: str | None = Field(
        default=AUTO,
        description="Static membership (group.instance.id); auto: the host name, plus "
        "'-<instance_ordinal>' when set; '' or 'none': dynamic membership",
    )
    instance_ordinal: int | None = Field(
        default=None, ge=0, description="Tells apart bridges of one group on one host (auto id)"
    )
    leave_group_on_shutdown: bool = Field(
        default=False,
        description="A static member leaves the group on SIGTERM (a scale-down: its partitions "
        "move at once); by default it does not (a rolling restart: no rebalance)",
    )
    session_timeout_ms: int | None = Field(
        default=None, ge=1000, description="Default: 30000 with static membership, else 10000"
    )
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
    metadata_max_age_ms: int = Field(
        default=30_000,
        ge=1000,
        le=2**31 - 1,
        description="Refresh topic metadata at least this often: partitions added to the topic "
        "(or a topic created again) are seen within it (aiokafka's default: 5 minutes)",
    )

    @field_validator("group_instance_id")
    @classmethod
    def _kafka_instance_id(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in DISABLED:
            return None
        if value != AUTO and not INSTANCE_ID.fullmatch(value):
            raise ValueError(
                "must be 'auto', '' or 'none' (dynamic membership), or 1-249 of a-z A-Z 0-9 . _ -"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        rf, isr = self.replication_factor, self.min_insync_replicas
        if isinstance(rf, int) and isinstance(isr, int) and isr > rf:
            raise ValueError(
                f"kafka.min_insync_replicas ({isr}) must not exceed kafka.replication_factor ({rf})"
            )
        # heartbeat_interval_ms against the session: eventbridge/setting_checks.py, which
        # names the key (and holds it to a third of the session, not just below it).
        return self

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic}.dlq"

    @property
    def static_membership(self) -> bool:
        return self.group_instance_id is not None

    @property
    def effective_session_timeout_ms(self) -> int:
        """A static member is only replaced once its session expires, so it is given time to
        restart (30 s); a dynamic member's crash costs every member a rebalance that waits out
        its session, so that stays short (10 s)."""
        if self.session_timeout_ms is not None:
            return self.session_timeout_ms
        return 30_000 if self.static_membership else 10_000
