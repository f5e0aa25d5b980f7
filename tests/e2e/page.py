"""A browser tab on the gateway's origin that runs docs/browser.md's examples over `app`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver

APP_JS = (Path(__file__).with_name("page_app.js")).read_text(encoding="utf-8")
_RUN_MODULE = """
const script = document.createElement("script");
script.type = "module";
script.textContent = arguments[0];
script.onerror = () => app.problems.push("the example's module did not load");
document.head.appendChild(script);
"""


class ExamplePage:
    """The gateway's origin (its `/livez` document), `app` installed, an example running."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, event_types: list[str]) -> None:
        self.driver.get(f"{self.base_url}/livez")
        self.driver.execute_script(APP_JS)
        self.driver.execute_script("app.eventTypes = arguments[0];", event_types)

    def run(self, module_code: str) -> None:
        self.driver.execute_script(_RUN_MODULE, module_code)

    def app(self) -> dict[str, Any]:
        value = self.driver.execute_script(
            "return JSON.parse(JSON.stringify({received: app.received, resets: app.resets,"
            " statuses: app.statuses, problems: app.problems, tokens: app.tokens}));"
        )
        assert isinstance(value, dict)
        assert value["problems"] == [], value["problems"]
        return value

    def wait(
        self, check: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 60
    ) -> dict[str, Any]:
        """Poll `app` until `check` holds; fail with `what` (and what the page saw) at the end."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.app()
            if check(state):
                return state
            if time.monotonic() > deadline:
                seen = {k: v for k, v in state.items() if k != "received"}
                raise AssertionError(
                    f"timed out waiting for {what}; {len(state['received'])} events; {seen}"
                )
            time.sleep(0.1)  # polling the page with a deadline

    def received(self, n: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        """Wait until at least `n` events were shown; return all of them."""
        state = self.wait(lambda s: len(s["received"]) >= n, f"{n} events", timeout_s)
        return list(state["received"])

    def states(self, state: str) -> list[Any]:
        return [s["info"] for s in self.app()["statuses"] if s["state"] == state]
