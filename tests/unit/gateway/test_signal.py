"""Signal: the Event semantics a connection relies on, for one waiter."""

from __future__ import annotations

import asyncio

import pytest

from application.gateway.signal import Signal

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]


def test_a_wait_returns_at_once_when_set_and_wakes_when_set_later() -> None:
    async def scenario() -> None:
        signal = Signal()
        signal.set()
        await signal.wait()
        signal.clear()
        assert not signal.is_set()
        waiting = asyncio.create_task(signal.wait())
        await asyncio.sleep(0)
        assert not waiting.done()
        signal.set()
        await asyncio.wait_for(waiting, 5)
        assert signal.is_set()  # like an Event: set until cleared

    asyncio.run(scenario())


def test_a_cancelled_wait_leaves_the_signal_ready_for_the_next_waiter() -> None:
    async def scenario() -> None:
        signal = Signal()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await signal.wait()
        waiting = asyncio.create_task(signal.wait())
        await asyncio.sleep(0)
        signal.set()
        await asyncio.wait_for(waiting, 5)

    asyncio.run(scenario())


def test_two_waiters_at_once_are_refused() -> None:
    async def scenario() -> None:
        signal = Signal()
        first = asyncio.create_task(signal.wait())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            await signal.wait()
        signal.set()
        await asyncio.wait_for(first, 5)

    asyncio.run(scenario())
