"""Child processes for local services: start tied to us, wait until they serve, stop by PID."""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from simulator.ports import free_port, port_open, release_port

__all__ = [
    "Cancelled",
    "PortInUse",
    "Watched",
    "die_with_us",
    "exited",
    "free_port",
    "kill",
    "log_says",
    "port_open",
    "release_port",
    "run_to_end",
    "spawn",
    "start_serving",
    "stop",
    "wait_until",
]

_PR_SET_PDEATHSIG = 1
# Resolved now, in the parent: after fork() in a process with threads (asyncio's resolver pool,
# a gateway thread) the child may only do async-signal-safe things, and dlopen is not one.
_prctl = ctypes.CDLL(None, use_errno=True).prctl
# What redis-server, the JVM and uvicorn log when their port is taken.
_BIND_FAILED = re.compile(r"address already in use", re.IGNORECASE)


class PortInUse(RuntimeError):
    """The service exited because another process holds its port (retry on another one)."""


class Cancelled(RuntimeError):
    """A wait was given up because the caller asked to stop (SIGTERM/SIGINT)."""


def die_with_us() -> Callable[[], None]:
    """A `preexec_fn` that ties the child to this process (for Popen calls made elsewhere, e.g.
    by selenium). Call Popen on the main thread: see `_Spawner` for why."""
    parent = os.getpid()

    def preexec() -> None:
        # In the child, before exec: if the parent dies (even SIGKILLed) the kernel sends the
        # service SIGTERM, so no broker or redis-server outlives the run that started it.
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: nobody will signal us
            os._exit(1)
        # We stop what we start by signal. A runner started in the background by a
        # non-interactive shell (`cmd &`, nohup, some CI runners) inherits SIGINT and SIGQUIT
        # ignored, and a child inherits that in turn: a Python child then never gets Python's
        # own SIGINT handler, so a SIGINT that comes before it installs its handlers is lost
        # (seen: `soak-env` signalled `env` 0.4 s into its start; it ran on, fully started).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)

    return preexec


class _Spawner:
    """Forks every child from a thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a
    service started from an executor or a short-lived thread would be SIGTERMed as soon as
    that thread finished. The main thread lives until the process exits, so it forks directly;
    any other thread hands the fork to one daemon thread that is never stopped."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():
            return job()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="eventbridge-spawner", daemon=True
                )
                self._thread.start()
        done: Future[object] = Future()
        self._jobs.put((job, done))
        result = done.result()
        assert isinstance(result, subprocess.Popen)
        return result

    def _serve(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                done.set_result(job())
            except BaseException as exc:  # handed to the waiting caller, who re-raises it
                done.set_exception(exc)


_spawner = _Spawner()


def spawn(
    argv: Sequence[str], *, log: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group, output to `log`, killed if we die."""
    log.parent.mkdir(parents=True, exist_ok=True)

    def job() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=die_with_us(),  # noqa: PLW1509 - no dlopen or locks in it
            )

    return _spawner.run(job)


def exited(pid: int) -> bool:
    """Whether our child `pid` has ended, without reaping it."""
    # WNOWAIT: the exited leader stays a zombie, so its PID (the group id) cannot be reused
    # while we kill what is left of its group.
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def stop(
    proc: subprocess.Popen[bytes],
    *,
    grace_s: float = 15.0,
    refused: Callable[[], bool] | None = None,
    sig: signal.Signals = signal.SIGTERM,
) -> None:
    """`sig` (SIGTERM) to the process group, wait up to `grace_s`, then SIGKILL whatever is
    left of it. Each time `refused()` says the service turned the signal down (and keeps
    running), it gets another one; a service that asks for nothing gets exactly one."""
    if proc.returncode is None and not exited(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace_s
        while not exited(proc.pid) and time.monotonic() < deadline:
            if refused is not None and refused():
                # The leader alone: its helpers (e.g. the very rewrite it waits for) go on.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
            time.sleep(0.05)  # polling a child's exit with a deadline
    if proc.returncode is None:
        # The leader has exited (or overstayed its grace): no member of its group may outlive
        # it, e.g. a redis-server's rewrite child. SIGKILL the group before reaping the leader.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group at once and reap the leader: a crash, no shutdown."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def log_size(log: Path | None) -> int:
    """Where the next attempt's output starts in an appended-to log."""
    return log.stat().st_size if log is not None and log.exists() else 0


def log_says(log: Path, pattern: re.Pattern[str]) -> Callable[[], bool]:
    """A check that is true once for each new line of `log` (from now on) matching `pattern`."""
    tail = _LogTail(log, log_size(log))

    def check() -> bool:
        tail.read()
        found = pattern.search(tail.text)
        if found is None:
            return False
        tail.text = tail.text[found.end() :]
        return True

    return check


class _LogTail:
    """The end of what a child has appended to its log since `start`, read incrementally."""

    def __init__(self, log: Path | None, start: int) -> None:
        self._log, self._pos, self.text = log, start, ""

    def read(self) -> str:
        if self._log is not None and self._log.exists():
            with self._log.open("rb") as f:
                f.seek(self._pos)
                chunk = f.read()
            self._pos += len(chunk)
            # A rolling window: enough for an error report, and a message may straddle reads.
            self.text = (self.text + chunk.decode(errors="replace"))[-4000:]
        return self.text


@dataclass(frozen=True)
class Watched:
    """A child `wait_until` fails fast on: when it exits, or its log (from byte `log_from`)
    says its port is taken."""

    what: str
    proc: subprocess.Popen[bytes]
    log: Path | None = None
    log_from: int = 0


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    log_from: int = 0,
    cancel: threading.Event | None = None,
    watch: Sequence[Watched] = (),
) -> float:
    """Poll `ready` until true; return seconds waited. Fail fast if `proc` (or any child in
    `watch`) exits (RuntimeError) or its log says its port is taken (`PortInUse`, even
    before it exits: a JVM takes many seconds to shut down after a failed bind)."""
    start = time.monotonic()
    deadline = start + timeout_s
    members = list(watch)
    if proc is not None:
        members.insert(0, Watched(what, proc, log, log_from))
    tails = [(m, _LogTail(m.log, m.log_from)) for m in members]
    while time.monotonic() < deadline:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"gave up waiting for {what}")
        for member, tail in tails:
            exited = member.proc.poll() is not None
            text = tail.read()
            if _BIND_FAILED.search(text):
                raise PortInUse(f"{member.what}: its port is taken:\n{text[-2000:]}")
            if exited:
                code = member.proc.returncode
                raise RuntimeError(f"{member.what} exited with code {code}:\n{text[-2000:]}")
        if ready():
            return time.monotonic() - start
        time.sleep(0.05)  # polling a child process; there is nothing to await
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f}s")


def run_to_end(
    argv: Sequence[str], *, log: Path, timeout_s: float, cancel: threading.Event | None = None
) -> None:
    """Run a tool (e.g. `redis-cli --cluster create`) tied to us, output to `log`, until it
    exits; a non-zero exit is a RuntimeError with the end of its log. On the deadline or
    `cancel` it is stopped first, so no tool is left running."""
    offset = log_size(log)
    proc = spawn(argv, log=log)
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"stopped while running {argv[0]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{' '.join(argv[:3])} did not finish in {timeout_s:.0f}s")
            time.sleep(0.05)  # polling a child's exit with a deadline
    except BaseException:
        stop(proc, grace_s=5)
        raise
    if proc.returncode != 0:
        text = _LogTail(log, offset).read()
        raise RuntimeError(f"{' '.join(argv[:3])} exited with code {proc.returncode}:\n{text}")


def start_serving(
    argv: Sequence[str],
    *,
    log: Path,
    ready: Callable[[subprocess.Popen[bytes]], bool],
    timeout_s: float,
    what: str,
    cancel: threading.Event | None = None,
    grace_s: float = 15.0,
) -> subprocess.Popen[bytes]:
    """Spawn `argv` and wait until `ready(proc)`; whatever fails (a taken port, an exit, the
    deadline, `cancel`) stops the process first, so nothing half-started is left running."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"stopped before {what} started")
    offset = log_size(log)
    proc = spawn(argv, log=log)
    try:
        wait_until(
            lambda: ready(proc),
            timeout_s=max(timeout_s, 0.1),
            what=what,
            proc=proc,
            log=log,
            log_from=offset,
            cancel=cancel,
        )
    except BaseException:
        stop(proc, grace_s=grace_s)
        raise
    return proc
