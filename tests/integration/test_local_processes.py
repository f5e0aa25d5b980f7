"""Child processes and ports of the local environment: reserved, tied to us, stopped whole."""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from simulator.ports import free_port, port_open, release_port
from simulator.processes import spawn, stop, wait_until
from simulator.proctree import Proc, descendants

pytestmark = pytest.mark.timeout(60)


def test_a_reserved_port_is_refused_to_others_but_a_server_can_listen_on_it() -> None:
    port = free_port()
    try:
        with socket.socket() as other, pytest.raises(OSError, match="in use") as taken:
            other.bind(("127.0.0.1", port))  # another bind(0)-picker or a plain bind
        assert taken.value.errno == errno.EADDRINUSE
        # A server that sets SO_REUSEADDR (redis-server, the JVM, uvicorn) binds it, twice.
        for _ in range(2):
            with socket.create_server(("127.0.0.1", port)) as server:
                assert server.getsockname()[1] == port
                assert port_open(port)
        assert not port_open(port)
    finally:
        release_port(port)
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))  # given back: anyone may have it now


def test_a_child_spawned_from_a_short_lived_thread_outlives_that_thread(tmp_path: Path) -> None:
    # PR_SET_PDEATHSIG fires when the forking *thread* ends: a service started from an
    # executor would be killed the moment that thread finished.
    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(
        target=lambda: started.append(spawn(["sleep", "60"], log=tmp_path / "sleep.log"))
    )
    thread.start()
    thread.join()
    [proc] = started
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2)  # a window for the signal that must not come
    finally:
        stop(proc)
    assert proc.returncode == -signal.SIGTERM


PARENT = """
import sys, time
from pathlib import Path
from simulator.processes import spawn
child = spawn(["sleep", "60"], log=Path(sys.argv[1]))
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "child.log")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    [child] = [p for p in descendants(parent.pid) if p.pid == pid]
    parent.kill()
    parent.wait()
    wait_until(lambda: not child.alive(), timeout_s=20, what="the orphaned child to die")


GROUP = """
import os, signal, subprocess, sys, time
subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); "
    "time.sleep(60)"])
time.sleep(60)
"""


def test_stop_leaves_no_member_of_the_group_behind_even_one_that_ignores_sigterm(
    tmp_path: Path,
) -> None:
    log = tmp_path / "group.log"
    leader = spawn([sys.executable, "-c", textwrap.dedent(GROUP)], log=log)
    wait_until(lambda: log.exists() and log.read_bytes() != b"", timeout_s=20, what="the member")
    members: list[Proc] = descendants(leader.pid)
    assert len(members) == 1
    stop(leader, grace_s=10)
    wait_until(lambda: not members[0].alive(), timeout_s=5, what="the member to be killed")


def test_a_wait_fails_fast_and_names_the_cause_when_the_child_exits(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    proc = spawn([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], log=log)
    # A deadline far past this test's timeout: only failing on the exit can pass.
    with pytest.raises(RuntimeError, match=r"exited with code 3:\s+boom"):
        wait_until(lambda: False, timeout_s=3600, what="x", proc=proc, log=log)


def test_a_child_gets_default_signals_even_when_we_were_started_with_sigint_ignored(
    tmp_path: Path,
) -> None:
    # A runner started by a non-interactive shell in the background (`cmd &`) inherits SIGINT
    # ignored; its Python children would inherit that and lose a SIGINT sent before they
    # install their own handlers (a `soak-env` cycle did: `env` signalled at 0.4 s ran on).
    script = "import signal; print(signal.getsignal(signal.SIGINT), flush=True)"
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = spawn([sys.executable, "-c", script], log=tmp_path / "child.log")
    finally:
        signal.signal(signal.SIGINT, before)
    assert proc.wait(timeout=30) == 0
    # Python installs its KeyboardInterrupt handler only for a SIGINT that was not ignored.
    assert "default_int_handler" in (tmp_path / "child.log").read_text()
