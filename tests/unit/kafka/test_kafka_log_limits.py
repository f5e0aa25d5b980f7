"""aiokafka's per-retry lines about a missing topic are let through once per topic per interval
(the dead-letter topic deleted under a running bridge made it log one line per metadata
refresh: 42,352 in 30 s), and the next one says how many were held back."""

from __future__ import annotations

import logging

import pytest

from adapters.kafka.log_limits import RepeatLimit, limit_repeated_kafka_logs

pytestmark = pytest.mark.unit

NOT_FOUND = "Topic %s not found in cluster metadata"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("aiokafka.cluster", logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_line_passes_once_per_topic_per_interval_and_counts_the_rest() -> None:
    clock = Clock()
    limit = RepeatLimit(frozenset({NOT_FOUND}), interval_s=30, clock=clock)
    passed = [limit.filter(record(NOT_FOUND, "t.dlq")) for _ in range(1000)]
    assert passed.count(True) == 1
    assert limit.filter(record(NOT_FOUND, "other")) is True  # another topic is another line
    clock.now += 31
    again = record(NOT_FOUND, "t.dlq")
    assert limit.filter(again) is True
    assert again.repeated == 999  # type: ignore[attr-defined]


def test_lines_it_does_not_limit_all_pass() -> None:
    limit = RepeatLimit(frozenset({NOT_FOUND}), clock=Clock())
    assert all(limit.filter(record("Unable to connect to %s", "node")) for _ in range(50))


def test_what_it_remembers_stays_bounded() -> None:
    limit = RepeatLimit(frozenset({NOT_FOUND}), clock=Clock())
    for n in range(5000):
        limit.filter(record(NOT_FOUND, f"topic-{n}"))
    assert len(limit._seen) <= 1001


def test_the_limits_sit_on_aiokafkas_own_loggers_once() -> None:
    limit_repeated_kafka_logs()
    limit_repeated_kafka_logs()
    for name in ("aiokafka.cluster", "aiokafka.producer.sender"):
        filters = [f for f in logging.getLogger(name).filters if isinstance(f, RepeatLimit)]
        assert len(filters) == 1, name
    sent = []
    handler = logging.Handler()
    handler.emit = sent.append  # type: ignore[method-assign]
    cluster = logging.getLogger("aiokafka.cluster")
    cluster.addHandler(handler)
    try:
        for _ in range(100):
            cluster.error(NOT_FOUND, "limits-test.dlq")  # as aiokafka logs it
    finally:
        cluster.removeHandler(handler)
    assert len(sent) == 1
