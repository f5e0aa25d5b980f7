"""Cancel tasks and wait until they have really ended, even when a cancellation is lost.

On Python 3.11 a cancellation can be lost: `asyncio.wait_for` returns its inner result when
the cancel arrives just as the inner awaitable finishes (CPython gh-86296, fixed in 3.12 by
rebuilding `wait_for` on `asyncio.timeout`). redis-py sends every command through `wait_for`
when `socket_timeout` is set (`Connection.send_packed_command`), so a loop cancelled while it
sends a Redis command can return from that call normally and go on running, its cancel
spent. Measured with a bare redis-py Connection on this project's machine: about one cancel in
four that lands during a PING is lost (tests/integration/test_lost_cancellation.py checks that
it still happens). A plain `cancel()` + `gather()` then waits for that loop
forever: a gateway stopped while its heartbeat tick or lease renewal was talking to Redis
never finished stopping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("eventbridge.tasks")


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]], *, grace_s: float = 1.0, again_s: float = 0.1
) -> None:
    """Cancel every task and return once each has ended (its result or error is left in it,
    and marked as seen, so asyncio does not log it as never retrieved).

    A task still running `grace_s` after its cancel (its cleanup may await for that long) is
    cancelled again every `again_s` until it ends; a cancel that was lost is not lost twice in
    a row in practice, since the next one lands in whatever the task awaits next.

    Cancelling this call does not orphan the tasks: it goes on cancelling them until they have
    ended and then raises the CancelledError. Calls nest (the gateway's stop cancels the
    supervisor, whose own call cancels the loops), and the outer call's second cancel must not
    leave a loop that lost its first one running on.
    """
    every = list(tasks)
    pending = {t for t in every if not t.done()}
    stopped: asyncio.CancelledError | None = None
    wait_s, warned = grace_s, False
    while pending:
        for task in pending:
            task.cancel()
        try:
            await asyncio.wait(pending, timeout=wait_s)
        except asyncio.CancelledError as exc:  # our caller stops too: these end first
            stopped = exc
        pending = {t for t in pending if not t.done()}
        if pending and not warned:
            warned = True
            names = sorted(_name(t) for t in pending)
            log.warning(
                "tasks went on after their cancellation; cancelling again",
                extra={"tasks": names},
            )
        wait_s = again_s
    for task in every:
        if not task.cancelled():
            task.exception()  # retrieved: it stays in the task for whoever awaits it
    if stopped is not None:
        raise stopped


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
