"""What every local service process we start shares: its PID, stop, kill, and new ports."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from simulator.processes import PortInUse, kill, stop

PORT_ATTEMPTS = 5  # new ports tried when a port turns out to be taken at a first start


class LocalService:
    """One service process (redis-server, a Kafka node, nginx) held by its handle."""

    grace_s = 15.0  # how long stop() waits after SIGTERM before it SIGKILLs

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _not_running(self) -> None:
        """A second start would lose the handle of the process already running."""
        if self.running:
            raise RuntimeError(f"{type(self).__name__} (pid {self.pid}) is already running")

    def _shutdown_refused(self) -> Callable[[], bool] | None:
        """A check that the service turned a SIGTERM down (see `processes.stop`)."""
        return None

    def stop(self) -> None:
        """SIGTERM, wait `grace_s`, SIGKILL what is left; `start()` may start it again."""
        if self._proc is not None:
            stop(self._proc, grace_s=self.grace_s, refused=self._shutdown_refused())
            self._proc = None

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, nothing written or handed over on the
        way out. `start()` (or a topology's `restart()`) brings it back."""
        if self._proc is not None:
            kill(self._proc)
            self._proc = None


def with_new_ports(
    start_once: Callable[[], None], move_ports: Callable[[], None], *, attempts: int = PORT_ATTEMPTS
) -> None:
    """Call `start_once` until it does not fail with `PortInUse`, calling `move_ports` before
    each new try; the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            start_once()
        except PortInUse:
            if attempt == attempts:
                raise
            move_ports()
            continue
        return
