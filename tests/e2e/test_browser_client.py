"""docs/browser.md's examples in headless Chromium against real bridge and gateway processes:
every produced event reaches the page exactly once, in order, through every kind of drop."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver

from simulator.genesis_model import SimRecord
from simulator.services import Services
from tests.doc_examples import example
from tests.e2e.page import ExamplePage
from tests.e2e.stack import COOKIE, BrowserStack, event_types, records_for, split_after

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def stack_factory(real_services: Services, unique: str, tmp_path: Path) -> Iterator[Any]:
    stacks: list[BrowserStack] = []

    def make(**overrides: dict[str, Any]) -> BrowserStack:
        stack = BrowserStack(real_services, unique, tmp_path, **overrides)
        stacks.append(stack)
        stack.start()
        return stack

    yield make
    for stack in stacks:
        stack.close()


def _ids(received: list[dict[str, Any]]) -> list[str]:
    return [str(r["eventId"]) for r in received]


def _stream_ids(received: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in received]


def _increasing(stream_ids: list[str]) -> bool:
    keys = [tuple(int(p) for p in s.split("-")) for s in stream_ids]
    return all(a < b for a, b in itertools.pairwise(keys))


def _exactly(stack: BrowserStack, received: list[dict[str, Any]], expected: list[str]) -> None:
    """The page shows exactly the produced events, in order, each once, under their stream ids."""
    assert _ids(received) == expected
    assert _increasing(_stream_ids(received))
    held = {event: sid for sid, event in stack.stream()}
    assert _stream_ids(received) == [held[e] for e in expected]


def test_the_client_resumes_exactly_across_a_gateway_sigkill_and_restart(
    stack_factory: Any, browser: webdriver.Chrome
) -> None:
    stack: BrowserStack = stack_factory()
    records, expected = records_for(80, seed=21)
    page = _client_page(browser, stack, records)
    _across_a_gateway_crash(stack, page, records, expected, dropped="waiting")
    opens = page.states("live")
    assert opens[0]["resumedFrom"] is None
    assert opens[-1]["resumedFrom"] == page.app()["received"][19]["id"]
    assert page.app()["resets"] == []
    assert page.app()["tokens"] == 1  # a drop keeps the token; only expiry asks for a new one

    browser.execute_script("app.unload();")  # stream.close()
    page.wait(lambda _: stack.connections() == 0, "the closed stream to leave the gateway")
    assert browser.execute_script("return app.unloads.length") == 1


def test_the_client_waits_out_a_full_connection_limit_then_receives_everything(
    stack_factory: Any, browser: webdriver.Chrome
) -> None:
    stack: BrowserStack = stack_factory(gateway={"max_connections_per_user": 1, "lease_s": 3})
    refusals = _refused_at_the_limit_then_served(stack, browser, seed=22, refusals=2)
    assert all(not r["fatal"] for r in refusals)


def test_a_429_from_the_ticket_endpoint_is_reported_and_its_retry_after_honoured(
    stack_factory: Any, browser: webdriver.Chrome
) -> None:
    """Needs the gateway to refuse the ticket (not only the stream) at the limit: an
    EventSource cannot read the 429 of a refused stream (issue 10's advisory ticket check)."""
    stack: BrowserStack = stack_factory(gateway={"max_connections_per_user": 1, "lease_s": 3})
    refused = _refused_at_the_limit_then_served(stack, browser, seed=23, refusals=1)[0]
    assert (refused.get("kind"), refused.get("status"), refused.get("reason")) == (
        "http",
        429,
        "limit",
    )
    assert 1000 <= refused["retryAfterMs"] <= 3000
    assert refused["retryInMs"] >= refused["retryAfterMs"]


def _refused_at_the_limit_then_served(
    stack: BrowserStack, browser: webdriver.Chrome, *, seed: int, refusals: int
) -> list[dict[str, Any]]:
    """The user's only allowed stream is held elsewhere while the page starts; once it is
    released the page gets every event. Returns what the client reported while refused."""
    records, expected = records_for(30, seed=seed)
    holder = _hold_a_stream(stack)
    try:
        page = _client_page(browser, stack, records, until_live=False)
        page.wait(lambda _: len(page.states("waiting")) >= refusals, "the client to be refused")
        refused = page.states("waiting")
        assert page.states("live") == []
    finally:
        holder.terminate()
        holder.wait(10)
    page.wait(lambda _: bool(page.states("live")), "the stream to open once the limit frees up")
    stack.produce(records)
    _exactly(stack, page.received(len(expected)), expected)
    return refused


def test_the_client_hands_over_a_reset_when_its_position_was_trimmed_and_then_what_is_held(
    stack_factory: Any, browser: webdriver.Chrome
) -> None:
    stack: BrowserStack = stack_factory(redis={"stream_maxlen": 10})
    records, expected = records_for(400, seed=24)
    cut = split_after(records, expected, 5)
    page = _client_page(browser, stack, records)
    stack.produce(records[:cut])
    assert _ids(page.received(5)) == expected[:5]

    stack.stop_gateway()  # a drain: the stream ends with `closing: shutdown`
    page.wait(lambda s: bool(page.states("closing")), "the closing frame")
    assert page.states("closing")[0] == {"reason": "shutdown"}
    stack.produce(records[cut:])
    stack.wait_in_stream(expected)
    held = stack.stream()
    assert expected[4] not in {e for _, e in held}, "MAXLEN ~ 10 trimmed the page's position"
    stack.start_gateway()

    received = page.received(5 + len(held))
    resets = page.app()["resets"]
    assert [(r["reset"]["reason"], r["after"]) for r in resets] == [("trimmed", 5)]
    assert resets[0]["reset"]["oldest"] == held[0][0]
    assert _ids(received) == expected[:5] + [e for _, e in held]
    assert _increasing(_stream_ids(received))
    assert _ids(received)[5:] == expected[-len(held) :]  # the newest, in produced order


def test_a_token_that_expires_mid_stream_is_replaced_and_nothing_is_missed_or_repeated(
    stack_factory: Any, browser: webdriver.Chrome
) -> None:
    stack: BrowserStack = stack_factory(gateway={"demo_token_ttl_s": 2})
    records, expected = records_for(70, seed=25)
    # The user has events already, so even a stream that expires before its first event has a
    # position (docs/browser.md: a user with no events at all has none to resume from).
    seed = split_after(records, expected, 3)
    stack.produce(records[:seed])
    stack.wait_in_stream(expected[:3])
    page = _client_page(browser, stack, records)
    stack.produce_paced(records[seed:], rate=8)  # ~8 s of traffic over tokens that live 1-2 s

    _exactly(stack, page.received(len(expected) - 3), expected[3:])
    closings = page.states("closing")
    assert len(closings) >= 2
    assert {c["reason"] for c in closings} == {"token_expired"}
    assert page.app()["tokens"] >= 1 + len(closings)
    assert page.app()["resets"] == []


def test_the_cookie_path_with_the_browsers_own_eventsource_resumes_across_a_gateway_restart(
    stack_factory: Any, browser: webdriver.Chrome
) -> None:
    stack: BrowserStack = stack_factory()
    records, expected = records_for(80, seed=26)
    page = ExamplePage(browser, stack.base_url)
    page.open(event_types(records))
    browser.add_cookie({"name": COOKIE, "value": stack.demo_token(), "path": "/", "httpOnly": True})
    page.run(example("cookie"))
    page.wait(lambda _: stack.connections() == 1, "the EventSource to connect")
    _across_a_gateway_crash(stack, page, records, expected, dropped="reconnecting")
    assert page.states("refused") == []  # the browser's own reconnect was never refused
    assert page.app()["resets"] == []


def _across_a_gateway_crash(
    stack: BrowserStack,
    page: ExamplePage,
    records: list[SimRecord],
    expected: list[str],
    *,
    dropped: str,
) -> None:
    """20 events live; SIGKILL the gateway (no drain, no closing frame); the rest is written
    while no gateway runs; a new gateway on the same port: the page must resume exactly."""
    cut = split_after(records, expected, 20)
    stack.produce(records[:cut])
    assert _ids(page.received(20)) == expected[:20]
    stack.kill_gateway()
    page.wait(lambda _: bool(page.states(dropped)), "the page to see the drop")
    stack.produce(records[cut:])
    stack.wait_in_stream(expected)
    stack.start_gateway()
    _exactly(stack, page.received(len(expected)), expected)


def _client_page(
    browser: webdriver.Chrome,
    stack: BrowserStack,
    records: list[SimRecord],
    *,
    until_live: bool = True,
) -> ExamplePage:
    """The doc's client example running on the gateway's origin, listening for `records`' types."""
    page = ExamplePage(browser, stack.base_url)
    page.open(event_types(records))
    page.run(example("client"))
    if until_live:
        page.wait(lambda _: bool(page.states("live")), "the stream to open")
    return page


def _hold_a_stream(stack: BrowserStack) -> subprocess.Popen[bytes]:
    """Another client of the same user holding a stream open (curl, the header on stdin)."""
    holder = subprocess.Popen(
        ["curl", "-sN", "-H", "@-", f"{stack.base_url}/v1/events"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert holder.stdin is not None
    holder.stdin.write(f"Authorization: Bearer {stack.demo_token()}\n".encode())
    holder.stdin.close()
    deadline = time.monotonic() + 20
    while stack.connections() < 1:
        assert holder.poll() is None, "curl exited"
        assert time.monotonic() < deadline, "the holding stream did not open"
        time.sleep(0.05)  # polling the gateway with a deadline
    return holder
