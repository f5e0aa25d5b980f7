"""aiokafka's errors, and what else it lets escape, translated into the ports' errors.

aiokafka raises `KafkaError` subclasses for most failures, but not for all of them: a stopped
consumer raises `ConsumerStoppedError`, an operation the configuration does not allow
`IllegalOperation` (neither is a KafkaError), bad arguments `ValueError`/`TypeError`/
`AssertionError`, a record it cannot parse `UnicodeDecodeError`, and socket trouble can surface
as `OSError`/`TimeoutError`. Every adapter method catches exactly these at its edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka.errors import (
    ConsumerStoppedError,
    IllegalOperation,
    KafkaError,
    KafkaTimeoutError,
    RequestTimedOutError,
)

from application.ports import PortError

LIBRARY_ERRORS: tuple[type[Exception], ...] = (
    KafkaError,
    ConsumerStoppedError,
    IllegalOperation,
    AssertionError,
    ValueError,  # UnicodeDecodeError too
    TypeError,
    OSError,  # ConnectionError, TimeoutError (asyncio.TimeoutError is TimeoutError)
)


def retriable(exc: BaseException) -> bool:
    """Whether trying again may succeed: aiokafka's own flag, timeouts (which it leaves
    unflagged) and socket errors; never a stopped client, a refused operation or a bug."""
    if isinstance(exc, KafkaTimeoutError | RequestTimedOutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, OSError)


def described(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


@contextmanager
def kafka_errors(error: type[PortError], what: str) -> Iterator[None]:
    """Re-raise any aiokafka error inside the block as `error` (cause kept, `retriable` set);
    CancelledError and other BaseExceptions pass untouched."""
    try:
        yield
    except LIBRARY_ERRORS as exc:
        raise error(f"{what}: {described(exc)}", retriable=retriable(exc)) from exc
