"""The dead-letter topic read back: what `eventbridge dlq show` prints and `replay` sends again."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from adapters.kafka.admin import KafkaAdminError, partitions_of
from adapters.kafka.errors import LIBRARY_ERRORS, described
from adapters.kafka.letters import HEADER_TOPIC
from adapters.kafka.settings import KafkaSettings
from adapters.kafka.stored_letter import HEADER_REPLAYED_FROM, StoredLetter
from adapters.kafka.unreadable import PARSE_ERRORS, failed_fetch, fetch_raw, read_records

_READ_ERRORS: tuple[type[Exception], ...] = (*LIBRARY_ERRORS, KafkaAdminError)
_BY_HAND_RECORDS = 500  # letters read by hand past one the client cannot parse, per call
__all__ = ["DeadLetterLogError", "StoredLetter", "letter_count", "read_letters", "replay"]


class DeadLetterLogError(Exception):
    """The dead-letter topic cannot be read, or a replayed record cannot be written."""


async def read_letters(
    settings: KafkaSettings, *, newest: int | None = None
) -> AsyncIterator[StoredLetter]:
    """The dead letters up to the topic's end as it is now, oldest first per partition; with
    `newest`, only the last `newest` of each partition. No consumer group: nothing commits.
    A letter the client library cannot parse (a header name that is not UTF-8, written by some
    other producer) is read by hand and marked `unreadable`: it never stops the reading."""
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
            try:
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
            except PARSE_ERRORS as exc:
                batches = await _around_unreadable(consumer, exc, settings)
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset < end[tp]:
                        yield StoredLetter(
                            topic,
                            tp.partition,
                            m.offset,
                            m.key,
                            m.value,
                            tuple(m.headers),
                            getattr(m, "unreadable", None),
                        )
                if messages and messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
    except _READ_ERRORS as exc:
        raise DeadLetterLogError(f"cannot read {topic}: {described(exc)}") from exc
    finally:
        await _stopped(consumer)


async def _around_unreadable(
    consumer: AIOKafkaConsumer, exc: BaseException, settings: KafkaSettings
) -> Mapping[TopicPartition, list[Any]]:
    """What the failed `getmany` had drained, and the failed partition's next letters read by
    hand (the bad one marked unreadable), its position moved past them: the source's way
    (adapters/kafka/unreadable.py), for the same records."""
    tp, drained = failed_fetch(exc)
    if tp is None:  # not where aiokafka raises it from: nothing to step past safely
        raise DeadLetterLogError(f"a dead letter cannot be read: {described(exc)}") from exc
    start = await consumer.position(tp)
    raw = await fetch_raw(consumer._client, tp, start, settings.max_partition_fetch_bytes)
    records = read_records(raw, start, _BY_HAND_RECORDS)
    if not records:
        raise DeadLetterLogError(
            f"the dead letter at {tp.topic}/{tp.partition}/{start} cannot be read, even by hand:"
            f" {described(exc)}"
        ) from exc
    consumer.seek(tp, records[-1].offset + 1)
    return {**drained, tp: [*drained.get(tp, []), *records]}


async def _stopped(client: AIOKafkaConsumer | AIOKafkaProducer) -> None:
    try:
        await client.stop()
    except LIBRARY_ERRORS as exc:
        raise DeadLetterLogError(f"cannot close the client: {described(exc)}") from exc


async def letter_count(settings: KafkaSettings) -> int:
    """How many records the dead-letter topic holds now (over all its partitions)."""
    topic = settings.dead_letter_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-dlq-reader",
        request_timeout_ms=settings.request_timeout_ms,
    )
    try:
        numbers = await partitions_of(settings.bootstrap_servers, topic)
        if not numbers:
            return 0
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in numbers]
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    except _READ_ERRORS as exc:
        raise DeadLetterLogError(f"cannot read {topic}: {described(exc)}") from exc
    finally:
        await _stopped(consumer)


def replay_refusal(letter: StoredLetter, topic: str) -> str | None:
    """Why `letter` must not be replayed to `topic`, or None if it may be."""
    if letter.unreadable is not None:
        return f"it could only be read by hand ({letter.unreadable}), so it is not the original"
    if letter.truncated:
        return (
            "the letter was truncated to fit the dead-letter topic, so it does not hold the"
            " original record (its dlq.sha256 names it)"
        )
    source = letter.header(HEADER_TOPIC)
    if source is None or letter.source is None:
        return "it names no source record (no bridge wrote it)"
    if source != topic:
        return f"it came from {source[:100]!r}, not from kafka.topic {topic!r}"
    return None


async def replay(
    settings: KafkaSettings,
    letters: AsyncIterable[StoredLetter],
    *,
    on_sent: Callable[[StoredLetter], None] | None = None,
) -> int:
    """Produce each letter's original record (key, value, headers) to `settings.topic`, marked
    with `dlq.replayed_from`, and wait until Kafka acknowledged every one. Only a letter whose
    source is `settings.topic` is sent there, never to a topic a letter's header names (anyone
    who can write the dead-letter topic could name any topic). A truncated or unreadable letter
    is never sent: it does not hold the original. The caller leaves all of those out."""
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
            refused = replay_refusal(letter, settings.topic)
            if refused is not None:
                raise DeadLetterLogError(f"{letter.at} is not replayed: {refused}")
            origin = letter.at.encode()
            futures.append(
                await producer.send(
                    settings.topic,
                    value=letter.original_value,
                    key=letter.key,
                    headers=[*letter.original_headers(), (HEADER_REPLAYED_FROM, origin)],
                )
            )
            if on_sent is not None:
                on_sent(letter)
        for future in futures:
            await future
            sent += 1
    except LIBRARY_ERRORS as exc:
        raise DeadLetterLogError(f"replay stopped after {sent} records: {described(exc)}") from exc
    finally:
        await _stopped(producer)
    return sent
