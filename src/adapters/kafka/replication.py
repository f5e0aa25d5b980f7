"""How many replicas a topic EventBridge creates gets, and how many must be in sync (SPEC §14)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Setting = int | Literal["auto"]
MIN_INSYNC = "min.insync.replicas"


class ReplicationError(ValueError):
    """The cluster cannot hold what the settings ask for."""


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int

    @property
    def topic_configs(self) -> dict[str, str]:
        """Set on the topic itself, so it does not depend on the brokers' defaults."""
        return {MIN_INSYNC: str(self.min_insync)}


def replication_for(brokers: int, factor: Setting, min_insync: Setting) -> Replication:
    """`auto` replicates to min(3, brokers), so one broker (a laptop) still works and three
    survive the loss of one; with 3 or more replicas `auto` wants 2 in sync, so an `acks=all`
    write survives a broker's loss and is still taken while one broker is down; with fewer, 1.
    Explicit numbers are kept, but never more replicas than brokers, nor more in sync than
    replicas (Kafka would refuse the first, and refuse every `acks=all` write for the second)."""
    if brokers < 1:
        raise ReplicationError("the cluster reports no live broker")
    rf = min(3, brokers) if factor == "auto" else factor
    if rf > brokers:
        raise ReplicationError(
            f"kafka.replication_factor is {rf} but the cluster has {brokers} live broker(s)"
        )
    isr = (2 if rf >= 3 else 1) if min_insync == "auto" else min_insync
    if isr > rf:
        raise ReplicationError(
            f"kafka.min_insync_replicas is {isr} but topics get {rf} replica(s): "
            "no acks=all write would ever be taken"
        )
    return Replication(rf, isr)
