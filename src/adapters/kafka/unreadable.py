"""Records aiokafka cannot parse, read by hand so that one of them cannot stall a partition.

A header name must be UTF-8 (the JVM clients can only write strings), but librdkafka and other
clients write whatever bytes they are given. aiokafka's record reader then raises
UnicodeDecodeError (CorruptRecordException in its pure-Python reader) from `getmany`, every time
it reaches that record: the partition stalls, and records other partitions had already handed
over in that call are lost with the exception. This module finds, from the exception's
traceback, which partition failed and what the call had already drained, and reads the failed
partition's next records itself, from the raw bytes, keeping a bad header name escaped and
marking its record unreadable. It relies on aiokafka's internals (pinned version; an
integration test holds it to them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CorruptRecordException
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.util import decode_varint

PARSE_ERRORS = (UnicodeDecodeError, CorruptRecordException)
_LENGTH = 8  # batch header: base offset (8 bytes), then the batch length (4 bytes)
_MAGIC = 16


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record read by hand; `unreadable` says what a normal reader would have choked on."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    unreadable: str | None


def failed_fetch(exc: BaseException) -> tuple[TopicPartition | None, dict[Any, list[Any]]]:
    """The partition whose records `getmany` could not parse, and the records it had drained
    from other partitions before (their positions already moved past them)."""
    partition, drained = None, {}
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        name = frame.f_code.co_name
        if name == "fetched_records" and isinstance(frame.f_locals.get("drained"), dict):
            drained = dict(frame.f_locals["drained"])
        elif name == "_unpack_records" and isinstance(frame.f_locals.get("tp"), TopicPartition):
            partition = frame.f_locals["tp"]
        tb = tb.tb_next
    return partition, drained


class _LenientBatch(_DefaultRecordBatchPy):  # type: ignore[misc]
    """aiokafka's pure-Python batch reader, except that a header name that is not UTF-8 is kept
    (backslash-escaped) and noted, instead of raising."""

    def _read_msg(
        self, decode_varint: Callable[[bytearray, int], tuple[int, int]] = decode_varint
    ) -> Any:
        buffer, pos = self._buffer, self._pos  # type: ignore[has-type]
        length, pos = decode_varint(buffer, pos)
        start = pos
        _, pos = decode_varint(buffer, pos)  # attributes: unused
        ts_delta, pos = decode_varint(buffer, pos)
        timestamp = (
            self.max_timestamp
            if self.timestamp_type == self.LOG_APPEND_TIME
            else self.first_timestamp + ts_delta
        )
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _nullable(buffer, pos)
        value, pos = _nullable(buffer, pos)
        count, pos = decode_varint(buffer, pos)
        headers: list[tuple[str, bytes]] = []
        unreadable = None
        for _ in range(max(count, 0)):
            name_len, pos = decode_varint(buffer, pos)
            raw_name = bytes(buffer[pos : pos + max(name_len, 0)])
            pos += max(name_len, 0)
            try:
                name = raw_name.decode("utf-8")
            except UnicodeDecodeError as bad:
                name = raw_name.decode("utf-8", "backslashreplace")
                unreadable = f"a header name is not UTF-8 ({bad.reason}): {name[:60]!r}"
            header_value, pos = _nullable(buffer, pos)
            headers.append((name, header_value or b""))
        if pos - start != length:
            raise CorruptRecordException(f"record size {length}, read {pos - start}")
        self._pos = pos
        return RawRecord(
            self.base_offset + offset_delta, timestamp, key, value, tuple(headers), unreadable
        )


def _nullable(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(buffer[pos : pos + size]), pos + size


def read_records(raw: bytes, start: int, max_records: int) -> list[RawRecord]:
    """The records at offsets `start` and after in a fetch response's record bytes (v2
    batches), at most `max_records`; control batches are skipped."""
    out: list[RawRecord] = []
    pos = 0
    while pos + _MAGIC < len(raw) and len(out) < max_records:
        size = 12 + int.from_bytes(raw[pos + _LENGTH : pos + _LENGTH + 4], "big", signed=True)
        if pos + size > len(raw) or raw[pos + _MAGIC] != 2:
            break  # a partial batch at the end of the response, or an old message format
        batch = _LenientBatch(raw[pos : pos + size])
        pos += size
        if batch.is_control_batch:
            continue
        for record in batch:
            if record.offset >= start:
                out.append(record)
                if len(out) >= max_records:
                    break
    return out


async def fetch_raw(client: Any, tp: TopicPartition, offset: int, max_bytes: int) -> bytes:
    """The raw record bytes of one partition from `offset` on, fetched from its leader."""
    request = FetchRequest(
        max_wait_time=0,
        min_bytes=1,
        max_bytes=max_bytes,
        isolation_level=0,
        topics=[(tp.topic, [(tp.partition, offset, max_bytes)])],
    )
    leader = client.cluster.leader_for_partition(tp)
    response = await client.send(leader, request)
    for _topic, partitions in response.topics:
        for partition, error_code, _highwater, *data in partitions:
            if partition == tp.partition and not error_code:
                return bytes(data[-1] or b"")
    return b""
