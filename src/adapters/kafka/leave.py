"""A static member's LeaveGroup (KIP-345), which aiokafka does not send: the member is gone
for good (a scale-down), so the group rebalances now rather than after its session."""

from __future__ import annotations

from aiokafka import AIOKafkaClient
from aiokafka.errors import UnknownMemberIdError, for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Int16, Int32, Schema, String

from adapters.kafka.admin import KafkaAdminError
from adapters.kafka.errors import kafka_errors

_GROUP_COORDINATOR = 0  # FindCoordinator key type of a consumer group


class _LeaveGroupResponseV3(Response):  # type: ignore[misc]
    API_KEY = 13
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        (
            "members",
            Array(
                ("member_id", String("utf-8")),
                ("group_instance_id", String("utf-8")),
                ("error_code", Int16),
            ),
        ),
    )


class _LeaveGroupRequestV3(RequestStruct):  # type: ignore[misc]
    """LeaveGroup v3, the first that names members by group.instance.id (and the form the
    Java admin client's removeMembersFromConsumerGroup sends)."""

    API_KEY = 13
    API_VERSION = 3
    RESPONSE_TYPE = _LeaveGroupResponseV3
    SCHEMA = Schema(
        ("group", String("utf-8")),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")))),
    )


class _RemoveStaticMember(Request[_LeaveGroupRequestV3]):  # type: ignore[misc]
    API_KEY = 13

    def __init__(self, group_id: str, instance_id: str) -> None:
        self._group_id = group_id
        self._instance_id = instance_id

    def build(self, request_struct_class: type[_LeaveGroupRequestV3]) -> _LeaveGroupRequestV3:
        # An empty member id: removed by instance id, whatever member id it holds now.
        return request_struct_class(self._group_id, [("", self._instance_id)])


async def remove_static_member(
    bootstrap: str, group_id: str, instance_id: str, *, request_timeout_ms: int = 10_000
) -> None:
    """Take the member with `instance_id` out of `group_id` (it is not running any more); a
    member the group does not know is fine (it was removed already, or its session ended)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms)
    try:
        with kafka_errors(KafkaAdminError, f"cannot remove {instance_id} from {group_id}"):
            await client.bootstrap()
            node = await client.coordinator_lookup(_GROUP_COORDINATOR, group_id)
            response = await client.send(node, _RemoveStaticMember(group_id, instance_id))
            codes = [response.error_code, *(m[2] for m in response.members)]
            for code in codes:
                error = for_code(code)
                if code and error is not UnknownMemberIdError:
                    raise error()
    finally:
        await client.close()
