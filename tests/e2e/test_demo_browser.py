"""The demo page in headless Chromium shows the bridge's events live, across a gateway restart."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from adapters.gateway.client_js import client_script
from eventbridge.gateway_runtime import run_gateway
from eventbridge.settings import EventBridgeSettings
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.processes import free_port
from simulator.produce import produce_all
from simulator.services import Services
from simulator.topics import create_topics

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Where the screenshot goes: the test's tmp dir, so a test run leaves the tree clean;
# `EVENTBRIDGE_DEMO_SCREENSHOT=docs/demo.png make e2e` refreshes the README's picture.
SCREENSHOT_ENV = "EVENTBRIDGE_DEMO_SCREENSHOT"


class GatewayThread:
    """run_gateway on its own loop in a thread, so the test can stop and restart it."""

    def __init__(self, settings: EventBridgeSettings) -> None:
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._up = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> None:
        self._up.clear()
        self._thread = threading.Thread(target=self._main, name="gateway", daemon=True)
        self._thread.start()
        assert self._up.wait(20), f"the gateway did not start: {self.error!r}"

    def _main(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop, ready = asyncio.Event(), asyncio.Event()
            ready_task = asyncio.create_task(ready.wait())
            ready_task.add_done_callback(lambda _: self._up.set())
            try:
                await run_gateway(self._settings, self._stop, ready=ready)
            finally:
                ready_task.cancel()

        try:
            asyncio.run(serve())
        except BaseException as exc:
            self.error = exc
            self._up.set()

    def stop(self) -> None:
        assert self._loop is not None
        assert self._stop is not None
        assert self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the gateway did not stop"
        assert self.error is None, self.error


def _shown(driver: webdriver.Chrome) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#events tr.event")
    return [str(row.get_attribute("data-domain-event-id")) for row in rows]


def _state_is(driver: webdriver.Chrome, connected: bool) -> None:
    status = driver.find_element(By.ID, "status")
    WebDriverWait(driver, 30, poll_frequency=0.2).until(
        lambda _: (status.get_attribute("data-state") == "connected") == connected
    )


def _wait_for_rows(driver: webdriver.Chrome, n: int, timeout: float = 90) -> list[str]:
    WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: len(_shown(d)) >= n)
    return _shown(driver)


def test_demo_page_shows_the_bridges_events_live_and_resumes_exactly_after_a_gateway_restart(
    real_services: Services, unique: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    user = "1"
    records = generate_n(60, seed=5, users=1, bad_ratio=0.0)
    expected = [
        str(r.expect.event_id)
        for r in records
        if r.expect.outcome == "delivered" and r.expect.user_id == user
    ]
    assert len(expected) >= 30
    cut = next(i for i, r in enumerate(records) if str(r.expect.event_id) == expected[15])
    first, second = records[:cut], records[cut:]
    first_ids = [i for i in expected if i in {str(r.expect.event_id) for r in first}]

    topic, port = f"genesis-{unique}", free_port()
    sections: dict[str, dict[str, Any]] = {
        "kafka": {
            "bootstrap_servers": real_services.kafka_bootstrap,
            "topic": topic,
            "group_id": f"eventbridge-{unique}",
        },
        "redis": {
            "url": real_services.redis_url,
            "sse_prefix": f"t{unique}:user:",
            "session_prefix": f"t{unique}:session:",
            "ticket_prefix": f"t{unique}:ticket:",
        },
        "bridge": {"commit_interval_s": 0.3, "http_port": 0},
        "gateway": {"port": port, "demo_enabled": True, "demo_user": user, "drain_s": 2},
        "auth": {"secret": "e2e-demo-secret-of-at-least-32-bytes!"},
    }
    # One partition: the user's sessions then reach Redis in produced order.
    create_topics(real_services.kafka_bootstrap, {topic: 1})
    bridge = EventBridgeProcess("bridge", sections, tmp_path / "bridge.log")
    gateway = GatewayThread(EventBridgeSettings(**sections))  # type: ignore[arg-type]
    bridge.start()
    gateway.start()
    try:
        browser.get(f"http://127.0.0.1:{port}/demo")
        status = browser.find_element(By.ID, "status")
        _state_is(browser, connected=True)
        asyncio.run(produce_all(real_services.kafka_bootstrap, topic, first))
        assert _wait_for_rows(browser, len(first_ids)) == first_ids

        gateway.stop()  # drain: the page sees its stream end and starts reconnecting
        _state_is(browser, connected=False)
        asyncio.run(produce_all(real_services.kafka_bootstrap, topic, second))
        gateway = GatewayThread(EventBridgeSettings(**sections))  # type: ignore[arg-type]
        gateway.start()

        assert _wait_for_rows(browser, len(expected)) == expected
        _state_is(browser, connected=True)
        assert status.get_attribute("data-resumed-from") == browser.execute_script(
            "const rows = document.querySelectorAll('#events tr.event');"
            f"return rows[{len(first_ids) - 1}].dataset.eventId;"
        )
        assert "resumed from" in status.text
        assert browser.execute_script(  # the page runs on the served client module
            "return performance.getEntriesByType('resource')"
            ".some(e => new URL(e.name).pathname === arguments[0]);",
            client_script().path,
        )
        assert int(status.get_attribute("data-connects") or 0) >= 2
        screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "demo.png")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(screenshot))
        assert _shown(browser) == expected  # nothing arrived twice after the last wait
    finally:
        gateway.stop()
        assert bridge.terminate() == 0
