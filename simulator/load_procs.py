"""The EventBridge processes of a load run, demo or e2e scenario: bridge, gateway, or both."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from simulator.bridge_process import EventBridgeProcess


class ServiceProcess(EventBridgeProcess):
    """`eventbridge <command>` with settings from env, logging to `log`."""

    def __init__(
        self, command: str, settings: Mapping[str, Any], log: Path, *, python: str | None = None
    ) -> None:
        super().__init__(command, settings, log, python=python)
        self.settings = settings

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def count_logged(self, message: str) -> int:
        """How many lines of the log so far carry `message` (one log for every start)."""
        return sum(e.get("message") == message for e in self.log_entries())

    def last_logged(self, message: str) -> dict[str, Any] | None:
        """The latest line of the log with `message`, if any."""
        found = None
        for entry in self.log_entries():
            if entry.get("message") == message:
                found = entry
        return found

    def wait_logged(self, message: str, timeout_s: float = 60.0, *, after: int = 0) -> None:
        """Poll the JSON log until more than `after` lines with `message` appear (a restarted
        process appends to the log of the one before: pass `count_logged` from before the
        restart). Fails fast if the child dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.count_logged(message) > after:
                return
            if self.exit_code() is not None:
                raise RuntimeError(f"{self.command} exited early:\n{self.tail()}")
            time.sleep(0.1)  # polling a child's log with a deadline
        raise TimeoutError(f"{self.command}: no {message!r} after {timeout_s:.0f}s\n{self.tail()}")

    def wait_http(self, url: str, timeout_s: float = 60.0) -> None:
        """Poll `url` until it answers 200 (fail fast if the child dies)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.exit_code() is not None:
                raise RuntimeError(f"{self.command} exited early:\n{self.tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling a child's port with a deadline
        raise TimeoutError(f"{self.command}: {url} not up after {timeout_s:.0f}s\n{self.tail()}")
