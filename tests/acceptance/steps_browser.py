"""Steps of browsers on the gateway: live events, resume, reset and connection limits (@e2e)."""

from __future__ import annotations

import asyncio

from pytest_bdd import given, parsers, then, when

from tests.acceptance.real_world import Browser, RealWorld
from tests.acceptance.world import World


def real(world: World) -> RealWorld:
    assert isinstance(world, RealWorld), "browser steps need the real gateway (@e2e)"
    return world


@given(parsers.parse("each user's history keeps only the latest {n:d} events"))
def history_keeps(world: World, n: int) -> None:
    real(world).configure("redis", stream_maxlen=n)


@given(parsers.parse("each user may keep {n:d} connections open"))
def connection_limit(world: World, n: int) -> None:
    real(world).configure("gateway", max_connections_per_user=n, lease_s=30.0)


@given(parsers.parse("user {user:w} has a browser connected"))
def browser_connected(world: World, user: str) -> None:
    w = real(world)
    browser = w.connect(user)
    assert browser.status == 200
    w.notes["browser"] = browser


@given(parsers.parse("user {user:w} has {n:d} browsers connected"))
def browsers_connected(world: World, user: str, n: int) -> None:
    w = real(world)
    for _ in range(n):
        assert w.connect(user).status == 200


@then("the browser receives the theme proposal live")
def receives_live(world: World) -> None:
    w = real(world)
    browser: Browser = w.notes["browser"]
    [frame] = w.run(browser.stream.messages(1, within_s=30))
    assert frame.json()["event_id"] == w.last("proposal").expect.event_id


@given(
    parsers.parse(
        "user {user:w}'s browser saw the first {n:d} of those events and lost its connection"
    )
)
def saw_first_n(world: World, user: str, n: int) -> None:
    w = real(world)
    proposals = {r.expect.event_id for r in w.named["proposal"]}
    seen = [m for m in w.received(user) if m.event_id in proposals][:n]
    w.notes["last seen"] = seen[-1].stream_id
    w.notes["user"] = user
    w.notes["unseen"] = [r.expect.event_id for r in w.named["proposal"][n:]]


@given(
    parsers.parse(
        "user {user:w}'s browser saw the first event of the session and lost its connection"
    )
)
def saw_first_event(world: World, user: str) -> None:
    w = real(world)
    w.notes["last seen"] = w.received(user)[0].stream_id
    w.notes["user"] = user


@when("the browser reconnects naming the last event it saw")
def reconnects(world: World) -> None:
    w = real(world)
    browser = w.connect(w.notes["user"], last_event_id=w.notes["last seen"])
    assert browser.status == 200
    w.notes["browser"] = browser


@then("the browser receives the remaining events and then the new one, with no gap and no repeat")
def receives_the_rest(world: World) -> None:
    w = real(world)
    browser: Browser = w.notes["browser"]
    expected = [*w.notes["unseen"], w.last("proposal").expect.event_id]
    frames = w.run(browser.stream.messages(len(expected), within_s=30))
    assert [f.json()["event_id"] for f in frames] == expected
    # And nothing after them: the next frame, if any arrives soon, carries no event.
    try:
        extra = w.run(browser.stream.messages(1, within_s=1.0))
    except TimeoutError:
        extra = []
    assert extra == []


@then("it is told to reload before any event")
def told_to_reload(world: World) -> None:
    w = real(world)
    browser: Browser = w.notes["browser"]
    [first] = w.run(browser.stream.messages(1, within_s=30))
    assert first.event == "reset"
    assert first.json()["reason"] == "trimmed"


@then("it then receives the events still kept")
def receives_what_is_kept(world: World) -> None:
    w = real(world)
    browser: Browser = w.notes["browser"]
    kept = w.stream_length(w.notes["user"])
    assert 0 < kept < len(w.named["proposal"])
    frames = w.run(browser.stream.messages(kept, within_s=30))
    assert frames[-1].json()["event_id"] == w.last("proposal").expect.event_id
    assert all(f.event != "reset" for f in frames)


@when(parsers.parse("user {user:w} opens another connection"))
def opens_another(world: World, user: str) -> None:
    w = real(world)
    w.notes["refused"] = w.connect(user)


@then("it is refused as too many connections, with a time to retry")
def refused(world: World) -> None:
    browser: Browser = real(world).notes["refused"]
    assert browser.status == 429
    assert int(browser.headers["retry-after"]) >= 1


@when(parsers.parse("one of user {user:w}'s browsers disconnects"))
def one_disconnects(world: World, user: str) -> None:
    real(world).disconnect(user)


@then(parsers.parse("user {user:w} can connect again"))
def can_connect_again(world: World, user: str) -> None:
    w = real(world)

    async def pause() -> None:
        await asyncio.sleep(0.1)  # the gateway notices the closed socket; poll with a deadline

    for _ in range(100):
        if w.connect(user).status == 200:
            return
        w.run(pause())
    raise AssertionError(f"user {user} could not connect again")
