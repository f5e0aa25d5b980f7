"""A throwaway redis-server from Debian on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from simulator.processes import free_port, spawn, stop, wait_until


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


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class LocalRedis:
    """One redis-server process. `stop()` and `start()` again keep the port (outage tests)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 30.0) -> float:
        """Start (loopback only, AOF persistence) and return seconds until it answered PING."""
        binary = ensure_redis_server()
        self.workdir.mkdir(parents=True, exist_ok=True)
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
            str(self.workdir),
            "--protected-mode",
            "yes",
        ]
        log = self.workdir / "redis.log"
        self._proc = spawn(argv, log=log)
        return wait_until(
            lambda: _pong(self.port),
            timeout_s=timeout_s,
            what="redis-server",
            proc=self._proc,
            log=log,
        )

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc)
            self._proc = None
