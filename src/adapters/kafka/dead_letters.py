"""AiokafkaDeadLetters: the dead-letter topic, with the original bytes and the reason."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidRequestError,
    InvalidTimestampError,
    InvalidTopicError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownTopicOrPartitionError,
    UnsupportedForMessageFormatError,
)

from adapters.kafka.admin import KafkaAdminError, create_topics, partitions_of, topic_config
from adapters.kafka.errors import LIBRARY_ERRORS, described, kafka_errors, retriable
from adapters.kafka.letters import BROKER_DEFAULT_MAX_MESSAGE_BYTES, Letter, letter_of
from adapters.kafka.settings import KafkaSettings
from application.ports import DeadLetter, DeadLetterUnavailable

log = logging.getLogger("eventbridge.dead_letters")

MAX_MESSAGE_BYTES = "max.message.bytes"
_BATCH_BYTES = 16_384  # aiokafka's default batch size: a batch of small letters stays small
# How long a send waits for the topic's metadata: aiokafka would wait request_timeout_ms (and
# refresh metadata all the while) for a topic that is not there.
METADATA_WAIT_S = 5.0
_WAIT_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *LIBRARY_ERRORS)
# What a delivery answers when the topic may have gone (deleted under the running bridge).
_TOPIC_GONE = (
    UnknownTopicOrPartitionError,
    NotLeaderForPartitionError,
    LeaderNotAvailableError,
    KafkaTimeoutError,
)
# What the topic says about one letter, and would say again: never retried as it is.
_REFUSED_LETTER = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    CorruptRecordException,
    InvalidRequestError,
    InvalidTimestampError,
    UnsupportedForMessageFormatError,
    ValueError,
    TypeError,
    AssertionError,
)


class AiokafkaDeadLetters:
    """DeadLetters over an AIOKafkaProducer (acks=all): key and value kept byte for byte when
    the topic can take them, cut to its `max.message.bytes` (read at start) when it cannot.

    This adapter bounds the wait for the acknowledgements itself (`request_timeout_ms`): past
    it the send is DeadLetterUnavailable, retriable, and the letters may still land later, so
    a letter may be written twice (dead letters are at least once: docs/dead-letters.md).

    A letter the topic refuses for what it is (too large, invalid) is sent once more in its
    minimal form (no value, no original headers). If even that is refused, the topic refuses
    every letter (it does not exist, or we may not write to it): that, like a broker that
    does not answer, is DeadLetterUnavailable, and the bridge keeps the records uncommitted.

    A topic deleted under the running bridge is noticed (no metadata within METADATA_WAIT_S,
    or a delivery that says the partition is gone, then the admin client's word): with
    `kafka.create_dlq_topic` it is created again (as at start) and the letters are retried;
    without, every send says so for good, naming the setting, until an operator creates it.
    """

    def __init__(self, *, settings: KafkaSettings) -> None:
        self._settings = settings
        self._topic = settings.dead_letter_topic
        self._limit = BROKER_DEFAULT_MAX_MESSAGE_BYTES
        self._producer: AIOKafkaProducer | None = None

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def max_message_bytes(self) -> int:
        return self._limit

    async def start(self) -> None:
        self._limit = await self._read_limit()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap_servers,
            client_id=f"{self._settings.client_id}-dlq",
            acks="all",
            # Not idempotent: an idempotent aiokafka producer retries a batch the topic refused
            # without end (it never expires one), and the bridge never drained once the topic
            # took letters again (tests/integration/test_bridge_stalls.py). A letter written
            # twice is counted once by `dlq show|replay` (one root per source record).
            linger_ms=0,
            request_timeout_ms=self._settings.request_timeout_ms,
            metadata_max_age_ms=self._settings.metadata_max_age_ms,
            max_request_size=self._limit,
            # A batch never holds more than one letter past this, so letters that each fit
            # cannot add up to a batch the topic refuses.
            max_batch_size=min(_BATCH_BYTES, self._limit),
        )
        with kafka_errors(DeadLetterUnavailable, "cannot start the dead-letter producer"):
            await self._producer.start()

    async def _read_limit(self) -> int:
        try:
            text = await topic_config(
                self._settings.bootstrap_servers, self._topic, MAX_MESSAGE_BYTES
            )
            return max(int(text), 1024)
        except (KafkaAdminError, ValueError) as exc:
            log.warning(
                "dead-letter topic limit unknown, assuming the broker default",
                extra={
                    "topic": self._topic,
                    "max_message_bytes": BROKER_DEFAULT_MAX_MESSAGE_BYTES,
                    "error": str(exc),
                },
            )
            return BROKER_DEFAULT_MAX_MESSAGE_BYTES

    @property
    def _ack_timeout_s(self) -> float:
        return self._settings.request_timeout_ms / 1000

    async def stop(self) -> None:
        """Flushes what is pending for as long as a send may wait; letters still unacknowledged
        then are given up: their records were never committed, so they come back."""
        if self._producer is not None:
            with kafka_errors(DeadLetterUnavailable, "cannot stop the dead-letter producer"):
                try:
                    await asyncio.wait_for(self._producer.stop(), self._ack_timeout_s)
                except TimeoutError:
                    log.warning(
                        "dead-letter producer stopped with letters unacknowledged",
                        extra={"topic": self._topic, "waited_s": self._ack_timeout_s},
                    )

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        await self._topic_known()
        now = datetime.now(UTC).isoformat().encode()
        built = [letter_of(dead, now=now, limit=self._limit) for dead in letters]
        outcomes = await self._deliver(built)
        refused = [
            d for d, o in zip(letters, outcomes, strict=True) if isinstance(o, _REFUSED_LETTER)
        ]
        failed = [o for o in outcomes if o is not None and not isinstance(o, _REFUSED_LETTER)]
        if refused:
            minimal = [
                letter_of(dead, now=now, limit=self._limit, minimal=True) for dead in refused
            ]
            again = await self._deliver(minimal)
            failed += [o for o in again if o is not None]
            kinds = sorted({type(o).__name__ for o in outcomes if isinstance(o, _REFUSED_LETTER)})
            log.warning(
                "dead letters refused by the topic, sent without their value",
                extra={"letters": len(refused), "errors": kinds, "topic": self._topic},
            )
        if failed:
            first = failed[0]
            if isinstance(first, _TOPIC_GONE):
                await self._check_topic()
            raise DeadLetterUnavailable(
                f"dead-letter write failed ({len(failed)} of {len(letters)}): {described(first)}",
                retriable=retriable(first),
            ) from first
        return None

    async def _topic_known(self) -> None:
        """The topic's partitions are known (at once when cached), or DeadLetterUnavailable
        after at most METADATA_WAIT_S."""
        producer = self._producer
        if producer is None:
            raise DeadLetterUnavailable("the dead-letter producer is not started", retriable=False)
        wait_s = min(METADATA_WAIT_S, self._settings.request_timeout_ms / 1000)
        try:
            async with asyncio.timeout(wait_s):
                await producer.partitions_for(self._topic)
        except _WAIT_ERRORS as exc:
            await self._check_topic()
            raise DeadLetterUnavailable(
                f"no metadata for the dead-letter topic {self._topic} within {wait_s:g} s: "
                f"{described(exc)}"
            ) from exc

    async def _check_topic(self) -> None:
        """Raise DeadLetterUnavailable when the topic does not exist: created again first when
        `kafka.create_dlq_topic` (the letters are then retried), else for good. Returns when
        it exists, or when the cluster cannot tell (the caller reports its own failure)."""
        bootstrap, topic = self._settings.bootstrap_servers, self._topic
        try:
            if await partitions_of(bootstrap, topic):
                return
        except KafkaAdminError:
            return
        if not self._settings.create_dlq_topic:
            log.error("dead-letter topic missing", extra={"topic": topic})
            raise DeadLetterUnavailable(
                f"the dead-letter topic {topic} does not exist and kafka.create_dlq_topic is "
                "off: create the topic (or turn the setting on)",
                retriable=False,
            )
        try:
            await create_topics(
                bootstrap,
                {topic: self._settings.dlq_partitions},
                replication_factor=self._settings.replication_factor,
                min_insync_replicas=self._settings.min_insync_replicas,
                timeout_s=10,
            )
        except KafkaAdminError as exc:
            raise DeadLetterUnavailable(
                f"the dead-letter topic {topic} is missing and cannot be created: {exc}"
            ) from exc
        log.warning("dead-letter topic created again", extra={"topic": topic})
        raise DeadLetterUnavailable(f"the dead-letter topic {topic} was missing: created again")

    async def _deliver(self, letters: Sequence[Letter]) -> list[BaseException | None]:
        """Send each letter and wait for every acknowledgement: None per success, else the
        error of that letter (raised when sending it or reported by the broker)."""
        producer = self._producer
        if producer is None:
            raise DeadLetterUnavailable("the dead-letter producer is not started", retriable=False)
        pending: list[asyncio.Future[object] | BaseException] = []
        for letter in letters:
            try:
                pending.append(
                    await producer.send(
                        self._topic, value=letter.value, key=letter.key, headers=letter.headers
                    )
                )
            except LIBRARY_ERRORS as exc:
                pending.append(exc)
        futures = [p for p in pending if not isinstance(p, BaseException)]
        if futures:
            await asyncio.wait(futures, timeout=self._ack_timeout_s)
        answers = iter(_outcome(f, self._ack_timeout_s) for f in futures)
        return [item if isinstance(item, BaseException) else next(answers) for item in pending]


def _outcome(future: asyncio.Future[object], waited_s: float) -> BaseException | None:
    """None for an acknowledged letter, else its error; one still unanswered is a timeout
    (retriable), and whatever it ends with later is fetched so that asyncio does not warn."""
    if future.done() and not future.cancelled():
        return future.exception()
    if not future.done():
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
    unanswered: BaseException = KafkaTimeoutError(f"no acknowledgement within {waited_s:g} s")
    return unanswered
