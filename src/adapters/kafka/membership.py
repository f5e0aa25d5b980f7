"""Which static member of the consumer group this process is (KIP-345 group.instance.id)."""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

from aiokafka import errors as aiokafka_errors

from adapters.kafka.settings import AUTO, KafkaSettings

log = logging.getLogger("eventbridge.source")

_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9._-]+")
_MAX = 249  # Kafka's limit on a group.instance.id


class FencedInstanceIdError(aiokafka_errors.BrokerResponseError):  # type: ignore[misc]
    errno = 82
    message = "FENCED_INSTANCE_ID"
    description = "another consumer joined the group with this member's group.instance.id"


# aiokafka 0.14 knows no error 82 (aio-libs/aiokafka#1186): `for_code` answers UnknownError,
# and the JoinGroup, SyncGroup and Heartbeat handlers raise it as a bare
# `KafkaError("UnknownError()")`, the same as any broker error it does not know. Registered,
# the error they raise names it. A later aiokafka that maps the code keeps its own class.
aiokafka_errors.kafka_errors.setdefault(FencedInstanceIdError.errno, FencedInstanceIdError)
_FENCED: type[Exception] = aiokafka_errors.for_code(FencedInstanceIdError.errno)


def group_instance_id(settings: KafkaSettings, *, hostname: str | None = None) -> str | None:
    """The configured id as it is; for `auto`, the host name (made of the characters Kafka
    allows) with `-<instance_ordinal>` when one is set; None: dynamic membership.

    The host name is what stays the same when a process is restarted in place (a Kubernetes
    StatefulSet pod keeps its name, so `$HOSTNAME` is `eventbridge-bridge-0` after every
    restart); the ordinal tells apart bridges that share a host."""
    configured = settings.group_instance_id
    if configured != AUTO:
        return configured
    suffix = "" if settings.instance_ordinal is None else f"-{settings.instance_ordinal}"
    host = _NOT_ALLOWED.sub("-", hostname if hostname is not None else socket.gethostname())
    host = host.strip("-.")[: _MAX - len(suffix)] or "eventbridge"
    return f"{host}{suffix}"


class Membership:
    """What this member learns of its group at each assignment (never per record): one log
    line with the group's generation, the member id and the partitions. A static member that
    takes its partitions back after a restart shows the generation it left; a rebalance shows
    a new one.

    A member id that changes under a running member means the group dropped it: its session
    expired, or another consumer joined with the same group.instance.id and took its place.
    A dynamic member just carries on (a warning). A static one is `replaced`: the bridge stops
    on its next fetch, as Kafka's Java client stops on FENCED_INSTANCE_ID, since two
    consumers sharing one instance id would take the partitions from each other forever
    (aiokafka, whose heartbeats do not carry the instance id, would rejoin each time)."""

    def __init__(self, instance_id: str | None, session_timeout_ms: int) -> None:
        self.instance_id = instance_id
        self._session_timeout_ms = session_timeout_ms
        self._member_id: str | None = None
        self.replaced: str | None = None

    def joined(self, coordinator: Any, partitions: list[int]) -> None:
        # aiokafka keeps generation and member id on its (private) coordinator only.
        generation = getattr(coordinator, "generation", None)
        member_id = getattr(coordinator, "member_id", None)
        fields = {
            "generation": generation,
            "member_id": member_id,
            "group_instance_id": self.instance_id,
            "session_timeout_ms": self._session_timeout_ms,
            "partitions": partitions,
        }
        log.info("kafka group joined", extra=fields)
        previous, self._member_id = self._member_id, member_id
        if previous is None or member_id == previous:
            return
        log.warning(
            "the group dropped this member and it joined again under a new member id",
            extra={**fields, "previous_member_id": previous},
        )
        if self.instance_id is not None:
            self.replaced = self._taken_over(self.instance_id)

    def fenced(self, exc: BaseException) -> str | None:
        """When `exc` is the broker fencing this static member (FENCED_INSTANCE_ID), it is
        `replaced`, and this says why; None for any other error. The broker answers so a
        JoinGroup or SyncGroup sent under the member id another consumer's join replaced,
        before this member's own heartbeat learnt of it. aiokafka raises the error typed, or
        wrapped in a KafkaError naming it (its JoinGroup, SyncGroup and Heartbeat handlers
        wrap a code they handle no other way)."""
        if self.instance_id is None:
            return None
        if not (isinstance(exc, _FENCED) or _FENCED.__name__ in str(exc)):
            return None
        self.replaced = self._taken_over(self.instance_id)
        return self.replaced

    @staticmethod
    def _taken_over(instance_id: str) -> str:
        return (
            f"group.instance.id {instance_id!r} was taken over: another consumer "
            "joined the group with it, or this member's session expired; give each bridge "
            "its own (kafka.group_instance_id, or kafka.instance_ordinal)"
        )
