"""The dead-letter topic read back: what `eventbridge dlq show` prints and `replay` sends again."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from adapters.kafka.admin import partitions_of
from adapters.kafka.dead_letters import (
    HEADER_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TIME,
    HEADER_TOPIC,
)
from adapters.kafka.settings import KafkaSettings

DLQ_HEADER_PREFIX = "dlq."
HEADER_REPLAYED_FROM = "dlq.replayed_from"  # on a replayed record: "<dlq topic>/<p>/<offset>"


class DeadLetterLogError(Exception):
    """The dead-letter topic cannot be read, or a replayed record cannot be written."""


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """One record of the dead-letter topic: the original record plus the `dlq.*` headers."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, raw in reversed(self.headers):
            if key == name:
                return raw.decode("utf-8", "replace")
        return None

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

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had before it was dead-lettered."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    def summary(self) -> dict[str, object]:
        """A JSON-ready view: where it is, why it is there, where it came from, and its bytes."""
        value: str | None = None
        if self.value is not None:
            try:
                value = self.value.decode("utf-8")
            except UnicodeDecodeError:
                value = self.value.decode("utf-8", "backslashreplace")
        return {
            "dlq": f"{self.topic}/{self.partition}/{self.offset}",
            "reason": self.reason,
            "message": self.header(HEADER_MESSAGE),
            "source": "/".join(
                self.header(h) or "?" for h in (HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET)
            ),
            "time": self.header(HEADER_TIME),
            "key": self.key.decode("utf-8", "backslashreplace") if self.key is not None else None,
            "value": value,
            "headers": {k: v.decode("utf-8", "replace") for k, v in self.original_headers()},
        }


async def read_letters(
    settings: KafkaSettings, *, newest: int | None = None
) -> AsyncIterator[StoredLetter]:
    """The dead letters up to the topic's end as it is now, oldest first per partition; with
    `newest`, only the last `newest` of each partition. No consumer group: nothing commits."""
    topic = settings.dead_letter_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-dlq-reader",
        enable_auto_commit=False,
        request_timeout_ms=settings.request_timeout_ms,
    )
    try:
        numbers = await partitions_of(settings.bootstrap_servers, topic)
        if not numbers:
            return
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(begin[tp], end[tp] - newest) if newest else begin[tp])
        remaining = {tp for tp in tps if await consumer.position(tp) < end[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset < end[tp]:
                        yield StoredLetter(
                            topic, tp.partition, m.offset, m.key, m.value, tuple(m.headers)
                        )
                if messages and messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
    except KafkaError as exc:
        raise DeadLetterLogError(f"cannot read {topic}: {exc}") from exc
    finally:
        await consumer.stop()


async def replay(
    settings: KafkaSettings,
    letters: AsyncIterable[StoredLetter],
    *,
    on_sent: Callable[[StoredLetter], None] | None = None,
) -> int:
    """Produce each letter's original record (key, value, headers) to the topic it came from,
    marked with `dlq.replayed_from`, and wait until Kafka acknowledged every one."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-dlq-replay",
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.request_timeout_ms,
    )
    sent = 0
    try:
        await producer.start()
        futures = []
        async for letter in letters:
            target = letter.header(HEADER_TOPIC) or settings.topic
            origin = f"{letter.topic}/{letter.partition}/{letter.offset}".encode()
            futures.append(
                await producer.send(
                    target,
                    value=letter.value,
                    key=letter.key,
                    headers=[*letter.original_headers(), (HEADER_REPLAYED_FROM, origin)],
                )
            )
            if on_sent is not None:
                on_sent(letter)
        for future in futures:
            await future
            sent += 1
    except KafkaError as exc:
        raise DeadLetterLogError(f"replay stopped after {sent} records: {exc}") from exc
    finally:
        await producer.stop()
    return sent
