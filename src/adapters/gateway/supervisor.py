"""Supervised background loops: a loop that dies is restarted with backoff, and counted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("eventbridge.gateway.supervisor")

Loop = Callable[[], Awaitable[None]]


class Restarts(Protocol):
    """Where a restart is counted (the gateway's telemetry)."""

    def task_restarted(self, task: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """`backoff_s` doubles with each recent death (capped); more than `max_restarts` deaths
    within `window_s` and the supervisor gives up (the process then exits non-zero)."""

    max_restarts: int = 5
    window_s: float = 300.0
    backoff_s: float = 0.5
    backoff_cap_s: float = 30.0


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

    A loop that raises (or returns) is down until it is restarted after a backoff; `running`
    says which loops are up right now, so readiness can tell the truth. Cancellation is never
    caught: it stops every loop.
    """

    def __init__(
        self,
        *,
        restarts: Restarts,
        policy: RestartPolicy,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._restarts = restarts
        self._policy = policy
        self._monotonic = monotonic
        self._sleep = sleep
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
        tasks = [asyncio.create_task(self._keep(name, loop)) for name, loop in loops.items()]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raises the TaskFailed
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep(self, name: str, loop: Loop) -> None:
        deaths: deque[float] = deque()
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
            now = self._monotonic()
            deaths.append(now)
            while deaths and deaths[0] < now - self._policy.window_s:
                deaths.popleft()
            if len(deaths) > self._policy.max_restarts:
                self.failed = TaskFailed(name, len(deaths), error)
                log.critical(
                    "background task keeps dying; giving up",
                    extra={"task": name, "deaths": len(deaths)},
                    exc_info=error,
                )
                raise self.failed from error
            delay = min(self._policy.backoff_s * 2 ** (len(deaths) - 1), self._policy.backoff_cap_s)
            self._restarts.task_restarted(name)
            log.error(
                "background task died; restarting",
                extra={"task": name, "restart_in_s": delay},
                exc_info=error,
            )
            await self._sleep(delay)
