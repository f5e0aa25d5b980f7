"""An `eventbridge` child process (bridge, gateway or both) with its JSON log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from simulator.processes import spawn, stop


def settings_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """{"kafka": {"topic": "x"}} → {"EVENTBRIDGE__KAFKA__TOPIC": "x"} (flat values only)."""
    env: dict[str, str] = {}
    for section, values in settings.items():
        for key, value in values.items():
            text = orjson.dumps(value).decode() if isinstance(value, (list, dict)) else str(value)
            env[f"EVENTBRIDGE__{section.upper()}__{key.upper()}"] = text
    return env


class EventBridgeProcess:
    """`python -m eventbridge <command>` with settings from env; logs to `log`. `python` is
    the interpreter (default: this one), e.g. another checkout's `.venv/bin/python`, so that
    one run can measure two versions of EventBridge side by side."""

    def __init__(
        self, command: str, settings: Mapping[str, Any], log: Path, *, python: str | None = None
    ) -> None:
        self.command = command
        self.env = {**os.environ, **settings_env(settings)}
        self.log = log
        self.python = python or sys.executable
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [self.python, "-m", "eventbridge", self.command]
        self._proc = spawn(argv, log=self.log, env=self.env)

    @property
    def pid(self) -> int:
        """The child's process id (started, not yet stopped)."""
        if self._proc is None:
            raise RuntimeError(f"eventbridge {self.command} is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no commit — a crash."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
            self._proc = None

    def terminate(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM and wait for the graceful drain; returns the exit code."""
        if self._proc is None:
            return None
        proc, self._proc = self._proc, None
        stop(proc, grace_s=grace_s)
        return proc.returncode

    def log_entries(self) -> Iterator[dict[str, Any]]:
        """The JSON log lines written so far (non-JSON lines are skipped)."""
        if not self.log.exists():
            return
        for line in self.log.read_bytes().splitlines():
            if line.startswith(b"{"):
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
