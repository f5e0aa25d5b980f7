"""One dead letter as a Kafka record that the dead-letter topic can always take.

A letter is the original key, value and headers plus the `dlq.*` headers. When that is more
than the topic's `max.message.bytes`, it is cut to fit, in this order: the value is truncated,
then the original headers are dropped, then the key is truncated; `dlq.truncated=true`,
`dlq.truncated.parts` (what was cut), `dlq.original_size` and `dlq.sha256` (of the whole
original value) say so; so do they for a record whose header names the source could only read
escaped (`header_names`). A truncated letter is for inspection only: replay refuses it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from application.ports import DeadLetter

HEADER_REASON = "dlq.reason"
HEADER_MESSAGE = "dlq.message"
HEADER_TOPIC = "dlq.source.topic"
HEADER_PARTITION = "dlq.source.partition"
HEADER_OFFSET = "dlq.source.offset"
HEADER_TIME = "dlq.time"
HEADER_TRUNCATED = "dlq.truncated"
HEADER_TRUNCATED_PARTS = "dlq.truncated.parts"
HEADER_ORIGINAL_SIZE = "dlq.original_size"
HEADER_SHA256 = "dlq.sha256"
HEADER_VALUE_NULL = "dlq.value_null"  # key and value both null: the letter's value is b""

BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588  # Kafka's default message.max.bytes
_MAX_MESSAGE_CHARS = 1000
_MARGIN = 64  # bytes kept free below the limit: the size estimate's varints, rounding


@dataclass(frozen=True, slots=True)
class Letter:
    """What is produced to the dead-letter topic for one DeadLetter."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def size(self) -> int:
        """An upper bound of the record batch it makes (what the broker compares with its
        `max.message.bytes`)."""
        return int(
            DefaultRecordBatchBuilder.estimate_size_in_bytes(self.key, self.value, self.headers)
        )

    @property
    def truncated(self) -> bool:
        return any(name == HEADER_TRUNCATED for name, _ in self.headers)


def _text(value: str, limit: int) -> bytes:
    # A message may hold any character: escape what UTF-8 cannot carry instead of raising.
    return value[:limit].encode("utf-8", "backslashreplace")


def dlq_headers(letter: DeadLetter, now: bytes) -> list[tuple[str, bytes]]:
    """The reason, the message and where the record came from."""
    record = letter.record
    return [
        (HEADER_REASON, _text(letter.code, 100)),
        (HEADER_MESSAGE, _text(letter.message, _MAX_MESSAGE_CHARS)),
        (HEADER_TOPIC, _text(record.partition.topic, 300)),
        (HEADER_PARTITION, str(record.partition.partition).encode()),
        (HEADER_OFFSET, str(record.offset).encode()),
        (HEADER_TIME, now),
    ]


def _marks(value: bytes | None, parts: list[str]) -> list[tuple[str, bytes]]:
    original = value or b""
    return [
        (HEADER_TRUNCATED, b"true"),
        (HEADER_TRUNCATED_PARTS, ",".join(parts).encode()),
        (HEADER_ORIGINAL_SIZE, str(len(original)).encode()),
        (HEADER_SHA256, hashlib.sha256(original).hexdigest().encode()),
    ]


_CUTS: tuple[tuple[str, ...], ...] = (
    (),
    ("value",),
    ("value", "headers"),
    ("value", "headers", "key"),
)


def _cut(
    dead: DeadLetter,
    ours: list[tuple[str, bytes]],
    parts: tuple[str, ...],
    budget: int,
    keep_value: bool,
) -> Letter:
    """The letter with `parts` cut: the key and then the value get what room is left."""
    record = dead.record
    marks = _marks(record.value, list(parts)) if parts else []
    headers = [*([] if "headers" in parts else record.headers), *ours, *marks]
    key, value = record.key, record.value
    if "key" in parts:
        key = (key or b"")[: max(budget - Letter(b"", b"", headers).size - 8, 0)]
    if "value" in parts:
        room = budget - Letter(key, b"", headers).size - 8 if keep_value else 0
        value = (value or b"")[: max(room, 0)]
    if key is None and value is None:  # aiokafka refuses a record with neither
        value = b""
    return Letter(key, value, headers)


def letter_of(dead: DeadLetter, *, now: bytes, limit: int, minimal: bool = False) -> Letter:
    """The letter for `dead`, at most `limit` bytes as a record batch, cutting as little as it
    can. `minimal` is the form tried once after the topic refused a letter anyway: no value
    and no original headers (and the key cut if it must be)."""
    ours = dlq_headers(dead, now)
    if dead.record.key is None and dead.record.value is None:
        ours.append((HEADER_VALUE_NULL, b"true"))
    budget = limit - _MARGIN
    # A header name the source could only read escaped is not the original: say so, so that
    # the letter is never replayed as if it were.
    escaped = ("header_names",) if dead.record.unreadable is not None else ()
    letter = Letter(None, b"", [])
    for parts in _CUTS[2:] if minimal else _CUTS:
        letter = _cut(dead, ours, (*escaped, *parts), budget, keep_value=not minimal)
        if letter.size <= budget:
            break
    return letter
