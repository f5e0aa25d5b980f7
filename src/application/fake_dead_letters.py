"""FakeDeadLetters: the DeadLetters port in memory, held to the Kafka adapter by a contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.ports import DeadLetter, DeadLetterUnavailable
from domain.model import Partition


@dataclass(frozen=True, slots=True)
class WrittenLetter:
    """A dead letter as the topic holds it: why, where from, and what of the record is kept."""

    code: str
    message: str
    partition: Partition
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    truncated: bool


_LETTER_OVERHEAD = 256  # the dlq.* headers and the record batch around a letter, roughly


def _written(dead: DeadLetter, limit: int) -> WrittenLetter:
    """Cut as the adapter cuts a letter over the topic's limit: the value first, then the
    original headers too, then the key too; the value gets what room is left."""
    record = dead.record
    fixed = _LETTER_OVERHEAD + len(dead.code) + min(len(dead.message), 1000)
    original = record.value or b""

    def size(key: bytes | None, headers: tuple[tuple[str, bytes], ...]) -> int:
        return fixed + len(key or b"") + sum(len(k) + len(v or b"") for k, v in headers)

    key, headers = record.key, record.headers
    if size(key, headers) + len(original) <= limit:
        return WrittenLetter(
            dead.code, dead.message, record.partition, record.offset, key, record.value,
            headers, False,
        )  # fmt: skip
    if size(key, headers) > limit:
        headers = ()
    if size(key, headers) > limit:
        key = (key or b"")[: max(limit - size(b"", headers), 0)]
    value = original[: max(limit - size(key, headers), 0)]
    return WrittenLetter(
        dead.code, dead.message, record.partition, record.offset, key, value, headers, True
    )


class FakeDeadLetters:
    """The dead-letter topic in memory; `available = False` makes sends fail. What it holds
    (`written`) follows the adapter: original key, value and headers, cut to fit
    `max_message_bytes` (value, then headers, then key) and marked truncated when over it."""

    def __init__(self, *, max_message_bytes: int = 1_048_588) -> None:
        self.letters: list[DeadLetter] = []
        self.written: list[WrittenLetter] = []
        self.max_message_bytes = max_message_bytes
        self.available = True
        self.calls = 0

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:  # as the adapter: nothing to send, nothing asked of the topic
            return
        self.calls += 1
        if not self.available:
            raise DeadLetterUnavailable("fake DLQ is down")
        self.letters.extend(letters)
        self.written.extend(_written(letter, self.max_message_bytes) for letter in letters)
