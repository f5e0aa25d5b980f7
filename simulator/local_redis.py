"""A throwaway redis-server from Debian on a reserved loopback port."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis

from simulator.local_service import PORT_ATTEMPTS, LocalService
from simulator.processes import (
    PortInUse,
    free_port,
    log_says,
    release_port,
    start_serving,
)

log = logging.getLogger("simulator.redis")

# A primary waits 5 s (repl-diskless-sync-delay) for more replicas before it sends the first
# full sync; ours have one replica each and tests wait for it: send at once.
NO_SYNC_DELAY = ("--repl-diskless-sync-delay", "0")
_SHUTDOWN_REFUSED = re.compile(r"Errors trying to shut down the server")


def ensure_command(command: str, package: str) -> str:
    """Path of `command`, installing Debian's `package` with apt when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{command} is missing; install it with: sudo apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)
    found = shutil.which(command)
    if not found:
        raise RuntimeError(f"apt-get installed {package} but {command} is not on PATH")
    return found


def ensure_redis_server() -> str:
    """Path of redis-server, installing Debian's package with apt when it is missing."""
    return ensure_command("redis-server", "redis-server")


def ensure_redis_cli() -> str:
    """Path of redis-cli (Debian's redis-tools, which redis-server depends on)."""
    return ensure_command("redis-cli", "redis-tools")


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


class LocalRedis(LocalService):
    """One redis-server process. `stop()` (or `kill()`) and `start()` again keep the port and
    the data (outage and failover tests); `close()` stops it for good and gives the port back.
    `args` are added to its command line (e.g. `--replicaof 127.0.0.1 PORT`)."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        pick_port: Callable[[], int] = free_port,
        args: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self._pick_port = pick_port
        self._fixed = port is not None
        self.port = port if port is not None else pick_port()
        self.args = list(args)
        self._started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 30.0, *, cancel: threading.Event | None = None) -> float:
        """Start (loopback only, AOF persistence) and return seconds until it served.

        A first start begins with an empty data directory (nothing from an earlier run in the
        same workdir) and moves to a new port when its port is taken; a restart keeps both,
        since clients know the port, and retries that port until the deadline."""
        self._not_running()
        binary = ensure_redis_server()
        data = self.workdir / "data"
        if not self._started:
            shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        deadline = began + timeout_s
        attempt = 0
        taken_before = False
        while True:
            attempt += 1
            try:
                self._start_once(binary, data, deadline - time.monotonic(), cancel)
            except TimeoutError as exc:
                # A retry of a taken fixed port that ran out of time (a slow start on a busy
                # machine) failed because of the port, not because Redis cannot start.
                if taken_before:
                    raise PortInUse(f"redis port {self.port} is still taken") from exc
                raise
            except PortInUse:
                taken_before = True
                if self._fixed or self._started:
                    if time.monotonic() + 0.5 >= deadline:
                        raise
                    log.warning("redis port %d is taken; retrying it", self.port)
                    time.sleep(0.5)  # the port must stay the same: poll it with a deadline
                    continue
                if attempt >= PORT_ATTEMPTS:
                    raise
                taken = self._move_ports()
                log.warning("redis ports %s are taken; trying port %d", taken, self.port)
                continue
            self._started = True
            return time.monotonic() - began

    def _move_ports(self) -> list[int]:
        """Pick new ports after a failed bind; give the old ones back and return them."""
        taken, self.port = self.port, self._pick_port()
        release_port(taken)
        return [taken]

    def _extra_args(self) -> list[str]:
        return self.args

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
            *self._extra_args(),
        ]
        self._proc = start_serving(
            argv,
            log=self.workdir / "redis.log",
            ready=lambda proc: serving(self.port, proc.pid),
            timeout_s=timeout_s,
            what=f"redis-server on port {self.port}",
            cancel=cancel,
        )

    def _shutdown_refused(self) -> Callable[[], bool]:
        # redis-server refuses to exit while it writes its first append-only file (e.g. just
        # after a replica's first sync), logs why and keeps running: without another SIGTERM
        # it would be SIGKILLed at the end of the grace.
        return log_says(self.workdir / "redis.log", _SHUTDOWN_REFUSED)

    def info(self, section: str) -> dict[str, Any] | None:
        """One INFO section of this node; None when it does not answer."""
        client = self.client()
        try:
            return dict(client.info(section))
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()

    def in_sync_replica(self, primary_port: int | None = None) -> bool:
        """Whether this node replicates (from `primary_port`, if given) over a link that is
        up, its initial sync done: from then on, writes to its primary reach it."""
        info = self.info("replication") or {}
        return (
            info.get("role") == "slave"
            and primary_port in (None, info.get("master_port"))
            and info.get("master_link_status") == "up"
            and info.get("master_sync_in_progress") == 0
        )

    def client(self) -> redis.Redis:
        """A plain (not cluster-aware) synchronous client of this node: short timeouts, text
        replies. Close it after use."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            decode_responses=True,
        )

    def close(self) -> None:
        """Stop for good and give the port back."""
        self.stop()
        release_port(self.port)
