"""The load run's browser stand-in counts events only, and resumes where the gateway stopped."""

from __future__ import annotations

import asyncio

import pytest

from simulator.load_sse import Follower, Frame


def _follower() -> Follower:
    return Follower("http://127.0.0.1:1", "1", "token")


def test_a_closing_frame_is_not_an_event_but_moves_the_resume_position() -> None:
    follower = _follower()
    follower._take(Frame(id="7-0", event="Genesis.Session.Started", data=['{"event_id":"e"}']))
    follower._take(Frame(id="9-0", event="closing", data=['{"reason":"token_expired"}']))
    assert [r.event_id for r in follower.received] == ["e"]
    assert follower.last_id == "9-0"
    follower._take(Frame(event="closing", data=['{"reason":"shutdown"}']))  # no position: kept
    assert follower.last_id == "9-0"


class ScriptedStream:
    """Frames handed out one by one; past the last, `end` raises it or (None) no frame comes."""

    def __init__(self, frames: list[Frame], end: Exception | None) -> None:
        self._frames = list(frames)
        self._end = end
        self.drained = asyncio.Event()

    async def next(self, within_s: float | None = None) -> Frame:
        if self._frames:
            return self._frames.pop(0)
        self.drained.set()
        if self._end is not None:
            raise self._end
        await asyncio.Event().wait()  # an open stream with nothing more to say
        raise AssertionError("unreachable")


def _event(n: int) -> Frame:
    return Frame(id=f"{n}-0", event="Genesis.Session.Started", data=[f'{{"event_id":"e{n}"}}'])


def test_a_follower_takes_every_frame_and_returns_when_stopped() -> None:
    follower = _follower()
    stream = ScriptedStream([_event(1), _event(2)], end=None)

    async def scenario() -> None:
        stop = asyncio.Event()
        following = asyncio.create_task(follower.follow(stream, stop))
        await asyncio.wait_for(stream.drained.wait(), timeout=5)
        stop.set()
        await asyncio.wait_for(following, timeout=5)

    asyncio.run(scenario())
    assert [r.event_id for r in follower.received] == ["e1", "e2"]
    assert follower.last_id == "2-0"


def test_a_stream_that_ends_is_told_to_the_caller_after_its_frames_are_taken() -> None:
    follower = _follower()
    stream = ScriptedStream([_event(1)], end=EOFError("the stream ended"))

    async def scenario() -> None:
        with pytest.raises(EOFError):
            await asyncio.wait_for(follower.follow(stream, asyncio.Event()), timeout=5)

    asyncio.run(scenario())
    assert [r.event_id for r in follower.received] == ["e1"]
