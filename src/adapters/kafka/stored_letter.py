"""One record of the dead-letter topic as read back: where it is, what it says, what it holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapters.kafka.letters import (
    HEADER_MESSAGE,
    HEADER_OFFSET,
    HEADER_ORIGINAL_SIZE,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_SHA256,
    HEADER_TIME,
    HEADER_TOPIC,
    HEADER_TRUNCATED,
    HEADER_TRUNCATED_PARTS,
    HEADER_VALUE_NULL,
)

HEADER_REPLAYED_FROM = "dlq.replayed_from"  # on a replayed record: "<dlq topic>/<p>/<offset>"
_OURS = frozenset(
    {
        HEADER_REASON,
        HEADER_MESSAGE,
        HEADER_TOPIC,
        HEADER_PARTITION,
        HEADER_OFFSET,
        HEADER_TIME,
        HEADER_TRUNCATED,
        HEADER_TRUNCATED_PARTS,
        HEADER_ORIGINAL_SIZE,
        HEADER_SHA256,
        HEADER_VALUE_NULL,
        HEADER_REPLAYED_FROM,
    }
)


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """One record of the dead-letter topic: the original record plus the `dlq.*` headers.

    `unreadable` says why the client library could not read it (a header name that is not
    UTF-8: no bridge writes one, so some other producer did); its headers are then as read by
    hand, a bad name escaped, and it is shown but never replayed.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    unreadable: str | None = None

    @property
    def at(self) -> str:
        """Where the letter is, in the form `dlq.replayed_from` names it."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    def header(self, name: str) -> str | None:
        for key, raw in reversed(self.headers):
            if key == name:
                return raw.decode("utf-8", "replace") if raw is not None else None
        return None

    @property
    def source(self) -> tuple[str, int, int] | None:
        """(topic, partition, offset) of the record it holds; None for a letter not ours."""
        topic, partition, offset = (
            self.header(h) for h in (HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET)
        )
        if topic is None or partition is None or offset is None:
            return None
        try:
            return topic, int(partition), int(offset)
        except ValueError:
            return None

    @property
    def replayed_from(self) -> str | None:
        """The letter whose record this letter's record is a replay of (`<dlq>/<p>/<offset>`):
        a record replayed and dead-lettered again carries it from the replay."""
        return self.header(HEADER_REPLAYED_FROM)

    @property
    def truncated(self) -> bool:
        """The letter does not hold its record byte for byte (cut to fit the topic)."""
        return self.header(HEADER_TRUNCATED) == "true"

    @property
    def original_value(self) -> bytes | None:
        """The record's value as it was (None for a record with neither key nor value)."""
        return None if self.header(HEADER_VALUE_NULL) == "true" else self.value

    @property
    def reason(self) -> str | None:
        return self.header(HEADER_REASON)

    @property
    def time(self) -> datetime | None:
        text = self.header(HEADER_TIME)
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            return None

    def original_headers(self) -> list[tuple[str, bytes | None]]:
        """The headers the record had before it was dead-lettered."""
        # A replayed record carries dlq.replayed_from and only that of ours; a producer's
        # own header that merely starts with "dlq." is kept.
        return [(k, v) for k, v in self.headers if k not in _OURS]

    def summary(self) -> dict[str, object]:
        """A JSON-ready view: where it is, why it is there, where it came from, and its bytes."""
        value: str | None = None
        if self.original_value is not None:
            value = self.original_value.decode("utf-8", "backslashreplace")
        extra: dict[str, object] = {}
        if self.truncated:
            extra["truncated"] = {
                "parts": (self.header(HEADER_TRUNCATED_PARTS) or "").split(","),
                "original_size": self.header(HEADER_ORIGINAL_SIZE),
                "sha256": self.header(HEADER_SHA256),
            }
        if self.unreadable is not None:
            extra["unreadable"] = self.unreadable
        return {
            "dlq": self.at,
            "reason": self.reason,
            "message": self.header(HEADER_MESSAGE),
            "source": "/".join(
                self.header(h) or "?" for h in (HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET)
            ),
            "time": self.header(HEADER_TIME),
            "key": self.key.decode("utf-8", "backslashreplace") if self.key is not None else None,
            "value": value,
            "headers": {
                k: v.decode("utf-8", "replace") if v is not None else None
                for k, v in self.original_headers()
            },
            **extra,
        }
