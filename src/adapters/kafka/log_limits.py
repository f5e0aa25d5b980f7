"""aiokafka's per-retry log lines about a missing topic, limited to one per topic per interval.

While a topic the client writes to or reads from is missing (the dead-letter topic deleted
under a running bridge, say), aiokafka's sender refreshes metadata as fast as the broker
answers and logs "Topic %s not found in cluster metadata" each time: tens of thousands of
lines a minute, which bury everything else and cost real CPU. What it says once is enough.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# The loggers and message templates repeated per metadata refresh or per produce retry.
_LIMITED: dict[str, frozenset[str]] = {
    "aiokafka.cluster": frozenset(
        {
            "Topic %s not found in cluster metadata",
            "Topic %s is not available during auto-create initialization",
            "Topic %s is not authorized for this client",
            "Error fetching metadata for topic %s: %s",
            "'%s' is not a valid topic name",
        }
    ),
    "aiokafka.producer.sender": frozenset(
        {
            "Got error produce response on topic-partition %s, retrying. Error: %s",
            "Got error produce response: %s",
        }
    ),
}
INTERVAL_S = 30.0


class RepeatLimit(logging.Filter):
    """Lets a limited message through once per `interval_s` for each of its arguments (the
    topic); the next one that passes says how many were held back in between."""

    def __init__(
        self,
        templates: frozenset[str],
        *,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._templates = templates
        self._interval_s = interval_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # -> (passed at, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in self._templates:
            return True
        key = (str(record.msg), repr(record.args)[:200])
        now = self._clock()
        passed = self._seen.get(key)
        if passed is not None and now - passed[0] < self._interval_s:
            self._seen[key] = (passed[0], passed[1] + 1)
            return False
        if len(self._seen) > 1000:  # one entry per topic in practice; never unbounded
            self._seen.clear()
        self._seen[key] = (now, 0)
        if passed is not None and passed[1]:
            record.repeated = passed[1]  # a field of the JSON line: held back since the last
        return True


def limit_repeated_kafka_logs(*, interval_s: float = INTERVAL_S) -> None:
    """Install the limits on aiokafka's loggers (once: calling again changes nothing)."""
    for name, templates in _LIMITED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatLimit) for f in logger.filters):
            logger.addFilter(RepeatLimit(templates, interval_s=interval_s))
