"""A SIGINT stops the test run, also when it comes in the middle of a test's event loop.

`asyncio.run` turns a SIGINT into a cancel of its main task and raises KeyboardInterrupt only
if that task ends cancelled with no other cancel pending. Under a test a cancel can be lost
(CPython gh-86296: 3.11's `wait_for` returns normally, and redis-py uses it) or ends as a
plain CancelledError: the test then passes or fails, and pytest goes on to the next one,
starting services, past the interrupt (seen in soaks: a run still going 40 s after its SIGINT).

So for the session SIGINT raises KeyboardInterrupt at once, as it does outside a loop.
`asyncio.run` installs its own handler only over Python's default one, so it keeps out of the
way. On its way out it cancels the test's tasks once and waits for them: should a task lose
that cancel, every task of the test still there is cancelled again RECANCEL_S later, and
every second after. Should the test swallow even the KeyboardInterrupt, the run stops after
the test."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from types import FrameType

import pytest
from _pytest.tmpdir import tmppath_result_key

RECANCEL_S = 5.0  # time for the tests' async cleanup before it is cancelled again

_state = {"interrupted": False, "installed": False}  # plain values: set in a signal handler


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    _state["interrupted"] = True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # the test's tasks only: not those asyncio.run makes to shut down (its executor's)
        loop.call_later(RECANCEL_S, _cancel_again, loop, asyncio.all_tasks(loop))
    raise KeyboardInterrupt


def _cancel_again(loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[object]]) -> None:
    left = [t for t in tasks if not t.done()]
    for task in left:
        task.cancel()
    if left:
        loop.call_later(1.0, _cancel_again, loop, set(left))


def _install() -> None:
    # Only over Python's default handler: an ignored SIGINT (a run started with nohup) stays
    # ignored, and a handler someone else installed is theirs.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupt)
        _state["installed"] = True


def pytest_sessionstart(session: pytest.Session) -> None:
    _install()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _state["installed"] and signal.getsignal(signal.SIGINT) is _raise_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if _state["installed"]:
        # again: asyncio's remove_signal_handler puts Python's default back, after a test that
        # ran a loop with a SIGINT handler of its own (as the CLI's install_stop_signals)
        _install()
    try:
        return (yield)
    finally:
        if _state["interrupted"]:
            item.session.shouldstop = "interrupted by SIGINT (caught inside the test)"
            # tmp_path's teardown (at the session's end, after an interrupt) reads what only a
            # call's report stores, and raised KeyError over the interrupt; keep the directory
            item.stash.setdefault(tmppath_result_key, {"call": False})
