"""The supervisor restarts a dead loop with a growing backoff, counts it, and gives up past a
bound; a loop that is down is reported down; cancellation stops everything."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from application.gateway.supervisor import Supervisor, TaskFailed
from domain.gateway.restarts import RestartPolicy

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


class Clock:
    """Time moves only when the supervisor sleeps (its backoff)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Restarts:
    def __init__(self) -> None:
        self.counted: Counter[str] = Counter()

    def task_restarted(self, task: str) -> None:
        self.counted[task] += 1


def _supervisor(clock: Clock, restarts: Restarts, **policy: float) -> Supervisor:
    return Supervisor(
        restarts=restarts,
        policy=RestartPolicy(**policy),  # type: ignore[arg-type]
        clock=clock,  # type: ignore[arg-type]
    )


def test_a_loop_that_keeps_dying_is_restarted_with_doubling_backoff_then_given_up() -> None:
    clock, restarts = Clock(), Restarts()
    supervisor = _supervisor(clock, restarts, max_restarts=3, window_s=100, backoff_s=0.5)
    deaths = 0

    async def broken() -> None:
        nonlocal deaths
        deaths += 1
        raise ValueError(f"bug number {deaths}")

    async def forever() -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        with pytest.raises(TaskFailed, match=r"'renewal' died 4 times.*bug number 4") as caught:
            await supervisor.run({"renewal": broken, "other": forever})
        assert caught.value.task == "renewal"
        assert isinstance(caught.value.__cause__, ValueError)

    asyncio.run(scenario())
    assert deaths == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert restarts.counted == Counter({"renewal": 3})
    assert supervisor.failed is not None
    assert not supervisor.healthy


def test_deaths_older_than_the_window_are_forgiven() -> None:
    clock, restarts = Clock(), Restarts()
    supervisor = _supervisor(clock, restarts, max_restarts=1, window_s=10, backoff_s=1)
    deaths = 0
    fifth_run: asyncio.Event | None = None

    async def dies_now_and_then() -> None:
        nonlocal deaths
        deaths += 1
        if deaths == 5:
            assert fifth_run is not None
            fifth_run.set()
            await asyncio.Event().wait()  # healthy from now on
        clock.now += 60  # it ran a minute before dying
        raise RuntimeError("rare failure")

    async def scenario() -> None:
        nonlocal fifth_run
        fifth_run = asyncio.Event()
        task = asyncio.create_task(supervisor.run({"tick": dies_now_and_then}))
        await fifth_run.wait()
        assert supervisor.healthy
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert restarts.counted["tick"] == 4
    assert clock.sleeps == [1, 1, 1, 1]  # each death was the only one in its window


def test_a_loop_is_reported_down_until_it_runs_again() -> None:
    restarts = Restarts()
    states: list[dict[str, bool]] = []

    async def scenario() -> None:
        gate = asyncio.Event()  # the backoff lasts until the test opens it

        class GatedClock(Clock):
            async def sleep(self, seconds: float) -> None:
                await gate.wait()

        supervisor = Supervisor(restarts=restarts, policy=RestartPolicy(), clock=GatedClock())  # type: ignore[arg-type]
        assert not supervisor.healthy  # not started yet
        runs = [asyncio.Event(), asyncio.Event()]

        async def loop() -> None:
            first = not runs[0].is_set()
            runs[0 if first else 1].set()
            if first:
                raise RuntimeError("dies once")
            await asyncio.Event().wait()

        task = asyncio.create_task(supervisor.run({"subscription": loop}))
        await runs[0].wait()
        await asyncio.sleep(0)  # one step: the supervisor sees the death, then backs off
        states.append(supervisor.running)
        assert not supervisor.healthy
        gate.set()
        await runs[1].wait()
        assert supervisor.healthy
        states.append(supervisor.running)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert states == [{"subscription": False}, {"subscription": True}]


def test_a_loop_that_returns_counts_as_dead_and_cancellation_is_never_swallowed() -> None:
    clock, restarts = Clock(), Restarts()
    supervisor = _supervisor(clock, restarts, max_restarts=0)

    async def returns() -> None:
        return None

    async def scenario() -> None:
        with pytest.raises(TaskFailed, match="returned"):
            await supervisor.run({"tick": returns})
        cancelled = _supervisor(clock, restarts)

        async def hangs() -> None:
            await asyncio.Event().wait()

        task = asyncio.create_task(cancelled.run({"tick": hangs}))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancelled.failed is None

    asyncio.run(scenario())
    assert restarts.counted == Counter()
