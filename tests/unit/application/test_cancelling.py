"""cancel_and_wait ends a task even when its first cancellation is lost (as Python 3.11's
asyncio.wait_for loses one inside a redis-py call), and lets a short cleanup finish."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from application.cancelling import cancel_and_wait
from application.gateway.supervisor import Supervisor
from domain.gateway.restarts import RestartPolicy

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


def _losing(cancels: list[int], swallow: int = 1) -> Callable[[], Awaitable[None]]:
    """A periodic loop whose first `swallow` cancels are lost, as a Redis call loses one."""

    async def loop() -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                cancels.append(1)
                if len(cancels) > swallow:
                    raise

    return loop


def _swallowing(cancels: list[int], swallow: int = 1) -> asyncio.Task[None]:
    return asyncio.create_task(_losing(cancels, swallow)())


def test_a_task_that_loses_its_cancel_runs_on_after_a_plain_cancel_but_not_after_this() -> None:
    async def scenario() -> None:
        cancels: list[int] = []
        plain = _swallowing(cancels)
        await asyncio.sleep(0.02)
        plain.cancel()
        done, _ = await asyncio.wait({plain}, timeout=0.3)
        assert not done  # the problem: cancel + gather would wait for it forever
        cancels.clear()
        await cancel_and_wait([plain], grace_s=0.1, again_s=0.05)
        assert plain.cancelled()
        assert len(cancels) == 2  # once lost, then the cancel that ended it

    asyncio.run(scenario())


def test_a_cleanup_shorter_than_the_grace_is_not_cancelled_again() -> None:
    async def scenario() -> None:
        cancels, cleaned = 0, asyncio.Event()

        async def with_cleanup() -> None:
            nonlocal cancels
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancels += 1
                await asyncio.sleep(0.1)  # the cleanup, e.g. a goodbye write
                cleaned.set()
                raise

        task = asyncio.create_task(with_cleanup())
        await asyncio.sleep(0)
        await cancel_and_wait([task], grace_s=1.0)
        assert task.cancelled()
        assert cleaned.is_set()
        assert cancels == 1

    asyncio.run(scenario())


def test_done_tasks_and_none_return_at_once_and_results_stay_in_the_tasks() -> None:
    async def scenario() -> None:
        async def fails() -> None:
            raise ValueError("kept")

        task = asyncio.create_task(fails())
        await asyncio.wait({task})
        await cancel_and_wait([])
        await cancel_and_wait([task])
        assert isinstance(task.exception(), ValueError)

    asyncio.run(scenario())


def test_the_supervisor_stops_even_when_a_loop_loses_its_first_cancel() -> None:
    class Clock:
        def monotonic(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(seconds)

    class Restarts:
        def task_restarted(self, task: str) -> None:
            raise AssertionError(task)

    async def scenario() -> None:
        cancels: list[int] = []
        tick = _losing(cancels)
        supervisor = Supervisor(
            restarts=Restarts(),  # type: ignore[arg-type]
            policy=RestartPolicy(),
            clock=Clock(),  # type: ignore[arg-type]
        )
        run = asyncio.create_task(supervisor.run({"tick": tick}))
        await asyncio.sleep(0.05)
        run.cancel()
        async with asyncio.timeout(10):
            await asyncio.gather(run, return_exceptions=True)
        assert run.cancelled()
        assert len(cancels) == 2

    asyncio.run(scenario())


def test_a_nested_call_cancelled_by_the_outer_one_still_sees_its_tasks_end() -> None:
    """The gateway's stop cancels the supervisor while the supervisor's own call waits for a
    loop that lost its cancel: the outer call's second cancel must not orphan that loop."""

    async def scenario() -> None:
        cancels: list[int] = []
        loop = _swallowing(cancels, swallow=1)

        async def supervisor() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                await cancel_and_wait([loop], grace_s=0.2, again_s=0.05)

        outer = asyncio.create_task(supervisor())
        await asyncio.sleep(0.02)
        await cancel_and_wait([outer], grace_s=0.1, again_s=0.05)  # fires before the inner one
        assert outer.cancelled()
        assert loop.done()

    asyncio.run(scenario())


def test_an_error_left_in_a_task_is_marked_retrieved() -> None:
    async def scenario() -> asyncio.Task[None]:
        async def fails() -> None:
            raise ValueError("kept")

        task = asyncio.create_task(fails())
        await asyncio.wait({task})
        await cancel_and_wait([task])
        return task

    task = asyncio.run(scenario())
    assert task._log_traceback is False  # asyncio will not log it as never retrieved
    assert isinstance(task.exception(), ValueError)
