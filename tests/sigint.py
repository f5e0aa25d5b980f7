"""A SIGINT stops the test run, also when it comes in the middle of a test's event loop.

`asyncio.run` turns a SIGINT into a cancel of its main task and raises KeyboardInterrupt only
if that task ends cancelled with no other cancel pending. Under a test a cancel can be lost
(CPython gh-86296: 3.11's `wait_for` returns normally, and redis-py uses it) or ends as a
plain CancelledError: the test then passes or fails, and pytest goes on to the next one,
starting services, past the interrupt (seen in soaks: a run still going 40 s after its SIGINT).

So for the session SIGINT raises KeyboardInterrupt at once, as it does outside a loop.
`asyncio.run` installs its own handler only over Python's default one, so it keeps out of the
way. Should the test swallow even that, the run stops after the test."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

_interrupted = threading.Event()
_installed = threading.Event()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def _install() -> None:
    # Only over Python's default handler: an ignored SIGINT (a run started with nohup) stays
    # ignored, and a handler someone else installed is theirs.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupt)
        _installed.set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _install()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _installed.is_set() and signal.getsignal(signal.SIGINT) is _raise_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if _installed.is_set():
        # again: asyncio's remove_signal_handler puts back Python's default when a test ran a
        # process's own handlers in-process (`eventbridge_main`)
        _install()
    try:
        return (yield)
    finally:
        if _interrupted.is_set():
            item.session.shouldstop = "interrupted by SIGINT (caught inside the test)"
