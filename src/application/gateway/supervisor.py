"""Supervised background loops: a loop that dies is restarted with backoff, and counted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from application.cancelling import cancel_and_wait
from application.ports import Clock
from domain.gateway.restarts import RestartPolicy

log = logging.getLogger("eventbridge.gateway.supervisor")

Loop = Callable[[], Awaitable[None]]


class Restarts(Protocol):
    """Where a restart is counted (the gateway's telemetry)."""

    def task_restarted(self, task: str) -> None: ...


class TaskFailed(RuntimeError):
    """A background loop kept dying past the restart bound; the process must not limp on."""

    def __init__(self, task: str, deaths: int, cause: BaseException) -> None:
        super().__init__(
            f"background task {task!r} died {deaths} times within the restart window; "
            f"last error: {type(cause).__name__}: {cause}"
        )
        self.task = task


class Supervisor:
    """Runs named loops that are meant to run until cancelled.

    A loop that raises (or returns) is down until it is restarted after a backoff (the
    domain's RestartPolicy decides how long, or that it is given up); `running` says which
    loops are up right now, so readiness can tell the truth. Cancellation is never caught: it
    stops every loop.
    """

    def __init__(self, *, restarts: Restarts, policy: RestartPolicy, clock: Clock) -> None:
        self._restarts = restarts
        self._policy = policy
        self._clock = clock
        self._running: dict[str, bool] = {}
        self.failed: TaskFailed | None = None

    @property
    def running(self) -> dict[str, bool]:
        return dict(self._running)

    @property
    def healthy(self) -> bool:
        """Every loop is up (and `run` has started them)."""
        return bool(self._running) and all(self._running.values()) and self.failed is None

    async def run(self, loops: Mapping[str, Loop]) -> None:
        """Supervise every loop until cancelled; raises TaskFailed when one gives up."""
        self._running = dict.fromkeys(loops, False)
        tasks = [
            asyncio.create_task(self._keep(name, loop), name=f"gateway {name}")
            for name, loop in loops.items()
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raises the TaskFailed
        finally:
            # Not a plain cancel + gather: on Python 3.11 a loop cancelled inside a Redis call
            # can swallow its cancel and run on (application/cancelling.py).
            await cancel_and_wait(tasks)

    async def _keep(self, name: str, loop: Loop) -> None:
        deaths: tuple[float, ...] = ()
        while True:
            self._running[name] = True
            try:
                await loop()
                error: Exception = RuntimeError(f"{name} returned; it must run until cancelled")
            except Exception as exc:
                # The one broad catch of a background loop: whatever killed it, the loop is
                # restarted (or the process stops); CancelledError is not an Exception.
                error = exc
            self._running[name] = False
            now = self._clock.monotonic()
            deaths = self._policy.recent((*deaths, now), now)
            delay = self._policy.delay(deaths)
            if delay is None:
                self.failed = TaskFailed(name, len(deaths), error)
                log.critical(
                    "background task keeps dying; giving up",
                    extra={"task": name, "deaths": len(deaths)},
                    exc_info=error,
                )
                raise self.failed from error
            self._restarts.task_restarted(name)
            log.error(
                "background task died; restarting",
                extra={"task": name, "restart_in_s": delay},
                exc_info=error,
            )
            await self._clock.sleep(delay)
