"""The load run's browser stand-in counts events only, and resumes where the gateway stopped."""

from __future__ import annotations

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
