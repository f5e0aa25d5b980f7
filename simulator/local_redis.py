"""A throwaway redis-server from Debian on a reserved loopback port."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from simulator.processes import PortInUse, free_port, release_port, start_serving, stop

log = logging.getLogger("simulator.redis")

PORT_ATTEMPTS = 5  # new ports tried when the first one turns out to be taken


def ensure_redis_server() -> str:
    """Path of redis-server, installing Debian's package with apt when it is missing."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(
            "redis-server is missing; install it with: sudo apt-get install redis-server"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("apt-get installed redis-server but it is not on PATH")
    return found


def serving(port: int, pid: int) -> bool:
    """Whether *our* redis-server (`pid`) answers on `port` and has loaded its data.

    A PONG alone could come from another process's server that took the port, and a server
    still loading its append-only file refuses commands; INFO answers in both cases and says
    which process it is and whether it is loading."""
    client = redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=1.0, socket_connect_timeout=1.0
    )
    try:
        info = client.info()
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
    return info.get("process_id") == pid and info.get("loading") == 0


class LocalRedis:
    """One redis-server process. `stop()` and `start()` again keep the port and the data
    (outage tests); `close()` stops it for good and gives the port back."""

    def __init__(
        self, workdir: Path, port: int | None = None, *, pick_port: Callable[[], int] = free_port
    ) -> None:
        self.workdir = workdir
        self._pick_port = pick_port
        self._fixed = port is not None
        self.port = port if port is not None else pick_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout_s: float = 30.0, *, cancel: threading.Event | None = None) -> float:
        """Start (loopback only, AOF persistence) and return seconds until it served.

        A first start begins with an empty data directory (nothing from an earlier run in the
        same workdir) and moves to a new port when its port is taken; a restart keeps both,
        since clients know the port, and retries that port until the deadline."""
        binary = ensure_redis_server()
        data = self.workdir / "data"
        if not self._started:
            shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        deadline = began + timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                self._start_once(binary, data, deadline - time.monotonic(), cancel)
            except PortInUse:
                if self._fixed or self._started:
                    if time.monotonic() + 0.5 >= deadline:
                        raise
                    log.warning("redis port %d is taken; retrying it", self.port)
                    time.sleep(0.5)  # the port must stay the same: poll it with a deadline
                    continue
                if attempt >= PORT_ATTEMPTS:
                    raise
                taken, self.port = self.port, self._pick_port()
                release_port(taken)
                log.warning("redis port %d is taken; trying port %d", taken, self.port)
                continue
            self._started = True
            return time.monotonic() - began

    def _start_once(
        self, binary: str, data: Path, timeout_s: float, cancel: threading.Event | None
    ) -> None:
        # An append-only file, so a stop()/start() outage keeps the streams like a real restart.
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            str(data),
            "--protected-mode",
            "yes",
        ]
        self._proc = start_serving(
            argv,
            log=self.workdir / "redis.log",
            ready=lambda proc: serving(self.port, proc.pid),
            timeout_s=timeout_s,
            what=f"redis-server on port {self.port}",
            cancel=cancel,
        )

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc)
            self._proc = None

    def close(self) -> None:
        """Stop for good and give the port back."""
        self.stop()
        release_port(self.port)
