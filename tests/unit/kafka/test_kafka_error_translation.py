"""Every error aiokafka can raise is translated at the adapter edge, with the right flag.

The clients are real aiokafka objects (not started); only the one library call under test is
replaced (autospec) by one that raises the library's own exception, since what is tested is
what the adapter makes of it. CancelledError always passes through.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka import errors as ke
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka import dead_letter_log
from adapters.kafka.admin import KafkaAdminError, partitions_of, topic_config
from adapters.kafka.dead_letter_log import DeadLetterLogError, read_letters
from adapters.kafka.dead_letters import AiokafkaDeadLetters
from adapters.kafka.settings import KafkaSettings
from adapters.kafka.source import AiokafkaEventSource
from application.ports import DeadLetter, DeadLetterUnavailable, SourceUnavailable
from domain.model import Partition, Record

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

SETTINGS = KafkaSettings(bootstrap_servers="127.0.0.1:1", request_timeout_ms=1000)
P = Partition(SETTINGS.topic, 0)

# (exception, whether trying again may help)
NOT_KAFKA_ERRORS: list[tuple[BaseException, bool]] = [
    (ke.ConsumerStoppedError(), False),
    (ke.IllegalOperation("Requires group_id"), False),
    (AssertionError("Partition is not assigned"), False),
    (ValueError("`max_records` must be a positive Integer"), False),
    (TypeError("partitions must be TopicPartition namedtuples"), False),
    (OSError("connection reset"), True),
    (TimeoutError(), True),  # asyncio.TimeoutError is TimeoutError
]
KAFKA_ERRORS: list[tuple[BaseException, bool]] = [
    (ke.KafkaConnectionError("no route"), True),
    (ke.KafkaTimeoutError(), True),
    (ke.RequestTimedOutError(), True),
    (ke.NodeNotReadyError(), True),
    (ke.UnknownTopicOrPartitionError(), True),
    (ke.NotEnoughReplicasError(), True),
    (ke.IllegalStateError("No partitions assigned"), False),
    (ke.CommitFailedError("rebalanced"), False),
    (ke.TopicAuthorizationFailedError(), False),
    (ke.KafkaError("unexpected"), False),
]
ALL_ERRORS = NOT_KAFKA_ERRORS + KAFKA_ERRORS
ids = [type(e).__name__ for e, _ in ALL_ERRORS]


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


@pytest.mark.parametrize(("error", "retriable"), ALL_ERRORS, ids=ids)
def test_a_failed_fetch_is_empty_when_it_may_pass_and_unavailable_when_it_cannot(
    error: BaseException, retriable: bool
) -> None:
    async def scenario() -> None:
        source = AiokafkaEventSource(settings=SETTINGS)
        with patch.object(source._consumer, "getmany", autospec=True, side_effect=error):
            if retriable:
                assert await source.fetch(timeout_s=0.01, max_records=10) == []
            else:
                with pytest.raises(SourceUnavailable) as caught:
                    await source.fetch(timeout_s=0.01, max_records=10)
                assert caught.value.retriable is False
                assert caught.value.__cause__ is error

    run(scenario())


@pytest.mark.parametrize(("error", "retriable"), ALL_ERRORS, ids=ids)
def test_a_failed_commit_is_source_unavailable_with_the_errors_flag(
    error: BaseException, retriable: bool
) -> None:
    async def scenario() -> None:
        source = AiokafkaEventSource(settings=SETTINGS)
        source._partition(TopicPartition(P.topic, P.partition))
        with (
            patch.object(source._consumer, "commit", autospec=True, side_effect=error),
            pytest.raises(SourceUnavailable) as caught,
        ):
            await source.commit({P: 5})
        assert caught.value.retriable is retriable

    run(scenario())


@pytest.mark.parametrize(("error", "retriable"), ALL_ERRORS, ids=ids)
def test_a_failed_start_is_source_unavailable_with_the_errors_flag(
    error: BaseException, retriable: bool
) -> None:
    async def scenario() -> None:
        source = AiokafkaEventSource(settings=SETTINGS)
        with (
            patch.object(source._consumer, "start", autospec=True, side_effect=error),
            patch.object(source._consumer, "stop", autospec=True) as stop,
            pytest.raises(SourceUnavailable) as caught,
        ):
            await source.start()
        assert caught.value.retriable is retriable
        stop.assert_awaited_once()  # the consumer it began is closed behind the error

    run(scenario())


def test_a_static_member_fenced_as_it_joins_stops_naming_the_setting() -> None:
    # Two bridges with one instance id: each join replaces the other's member id, and the
    # one still in its first join hears FENCED_INSTANCE_ID (82) from its SyncGroup, which
    # aiokafka 0.14 raises wrapped in a bare KafkaError (seen in the soak).
    fenced = ke.KafkaError(repr(ke.for_code(82)()))
    settings = SETTINGS.model_copy(update={"group_instance_id": "vm-0"})

    async def scenario() -> None:
        source = AiokafkaEventSource(settings=settings)
        with (
            patch.object(source._consumer, "start", autospec=True, side_effect=fenced),
            patch.object(source._consumer, "stop", autospec=True) as stop,
            pytest.raises(SourceUnavailable, match="'vm-0' was taken over") as caught,
        ):
            await source.start()
        assert caught.value.retriable is False
        assert "kafka.instance_ordinal" in str(caught.value)
        stop.assert_awaited_once()
        with pytest.raises(SourceUnavailable, match="was taken over"):  # and stays stopped
            await source.fetch(timeout_s=0.01, max_records=1)

    run(scenario())


@pytest.mark.parametrize("call", ["getmany", "commit", "start"])
def test_cancellation_passes_through_the_source(call: str) -> None:
    async def scenario() -> None:
        source = AiokafkaEventSource(settings=SETTINGS)
        source._partition(TopicPartition(P.topic, P.partition))
        actions = {
            "getmany": lambda: source.fetch(timeout_s=0.01, max_records=1),
            "commit": lambda: source.commit({P: 1}),
            "start": source.start,
        }
        cancelled = asyncio.CancelledError
        with (
            patch.object(source._consumer, call, autospec=True, side_effect=cancelled),
            pytest.raises(asyncio.CancelledError),
        ):
            await actions[call]()

    run(scenario())


def test_pause_and_lag_never_raise_when_a_rebalance_raced_them() -> None:
    async def scenario() -> None:
        source = AiokafkaEventSource(settings=SETTINGS)
        tp = TopicPartition(P.topic, P.partition)
        source._partition(tp)
        source._next_offset[P] = 3
        consumer = source._consumer
        with (
            patch.object(consumer, "assignment", autospec=True, return_value={tp}),
            patch.object(consumer, "pause", autospec=True, side_effect=ke.IllegalStateError()),
            patch.object(consumer, "resume", autospec=True, side_effect=AssertionError()),
            patch.object(consumer, "highwater", autospec=True, side_effect=AssertionError()),
        ):
            source.pause([P])
            source.resume([P])
            assert source.lag() == {}

    run(scenario())


async def dead_letters_with_producer() -> tuple[AiokafkaDeadLetters, AIOKafkaProducer]:
    dlq = AiokafkaDeadLetters(settings=SETTINGS)
    producer = AIOKafkaProducer(bootstrap_servers=SETTINGS.bootstrap_servers)

    async def known(topic: str) -> set[int]:
        return {0}  # the topic's metadata is known: what is tested is the send

    producer.partitions_for = known  # type: ignore[method-assign]
    dlq._producer = producer
    return dlq, producer


LETTER = DeadLetter(Record(P, 9, b"k", b"{bad", (("origin", b"x"),)), "invalid_json", "not JSON")


def failed(error: BaseException) -> asyncio.Future[object]:
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


def done() -> asyncio.Future[object]:
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


@pytest.mark.parametrize(
    ("error", "retriable"),
    [(e, r) for e, r in ALL_ERRORS if not isinstance(e, ValueError | TypeError | AssertionError)],
    ids=[
        type(e).__name__
        for e, _ in ALL_ERRORS
        if not isinstance(e, ValueError | TypeError | AssertionError)
    ],
)
def test_a_letter_the_broker_does_not_take_for_a_passing_reason_is_dead_letter_unavailable(
    error: BaseException, retriable: bool
) -> None:
    async def send(*args: Any, **kwargs: Any) -> asyncio.Future[object]:
        return failed(error)

    async def scenario() -> None:
        dlq, producer = await dead_letters_with_producer()
        with (
            patch.object(producer, "send", autospec=True, side_effect=send),
            pytest.raises(DeadLetterUnavailable) as caught,
        ):
            await dlq.send([LETTER])
        assert caught.value.retriable is retriable

    run(scenario())


@pytest.mark.parametrize(
    "error",
    [
        ke.MessageSizeTooLargeError(),
        ke.RecordTooLargeError(),
        ke.RecordListTooLargeError(),
        ke.InvalidTopicError(),
        ke.CorruptRecordException(),
        AssertionError("Need at least one: key or value"),
        ValueError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_letter_refused_for_what_it_is_is_sent_once_more_minimal(error: BaseException) -> None:
    sent: list[dict[str, Any]] = []

    async def send(*args: Any, **kwargs: Any) -> asyncio.Future[object]:
        sent.append(kwargs)
        if len(sent) == 1:
            raise error  # raised when sending (a client-side check) counts the same
        return done()

    async def scenario() -> None:
        dlq, producer = await dead_letters_with_producer()
        with patch.object(producer, "send", autospec=True, side_effect=send):
            await dlq.send([LETTER])

    run(scenario())
    first, minimal = sent
    assert first["value"] == b"{bad"
    assert minimal["value"] == b""
    assert dict(minimal["headers"])["dlq.truncated.parts"] == b"value,headers"
    assert "origin" not in dict(minimal["headers"])


def test_a_letter_refused_even_minimal_leaves_the_topic_unavailable_not_retried_forever() -> None:
    calls = 0

    async def send(*args: Any, **kwargs: Any) -> asyncio.Future[object]:
        nonlocal calls
        calls += 1
        return failed(ke.MessageSizeTooLargeError())

    async def scenario() -> None:
        dlq, producer = await dead_letters_with_producer()
        with (
            patch.object(producer, "send", autospec=True, side_effect=send),
            pytest.raises(DeadLetterUnavailable),
        ):
            await dlq.send([LETTER])

    run(scenario())
    assert calls == 2


def test_an_unreadable_dead_letter_topic_limit_falls_back_to_the_broker_default() -> None:
    dlq = AiokafkaDeadLetters(settings=SETTINGS)
    with patch.object(AIOKafkaAdminClient, "start", autospec=True, side_effect=OSError("down")):
        assert run(dlq._read_limit()) == 1_048_588


@pytest.mark.parametrize(("error", "retriable"), ALL_ERRORS, ids=ids)
def test_admin_calls_raise_their_port_error(error: BaseException, retriable: bool) -> None:
    async def scenario() -> None:
        with patch.object(AIOKafkaAdminClient, "start", autospec=True, side_effect=error):
            with pytest.raises(KafkaAdminError) as caught:
                await partitions_of(SETTINGS.bootstrap_servers, "t")
            assert caught.value.retriable is retriable
            with pytest.raises(KafkaAdminError):
                await topic_config(SETTINGS.bootstrap_servers, "t", "max.message.bytes")

    run(scenario())


@pytest.mark.parametrize(("error", "retriable"), ALL_ERRORS, ids=ids)
def test_reading_the_dead_letter_topic_raises_dead_letter_log_error(
    error: BaseException, retriable: bool
) -> None:
    async def scenario() -> None:
        with (
            patch.object(dead_letter_log, "partitions_of", autospec=True, return_value=[0]),
            patch.object(
                dead_letter_log.AIOKafkaConsumer, "start", autospec=True, side_effect=error
            ),
            pytest.raises(DeadLetterLogError),
        ):
            async for _ in read_letters(SETTINGS):
                pass

    run(scenario())
