"""What a process left behind, read from /proc: its descendants and the ports they listen on."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_LISTEN = "0A"


@dataclass(frozen=True)
class Proc:
    """A process, identified by PID *and* start time, so a reused PID is not mistaken for it."""

    pid: int
    start_ticks: int
    name: str

    def alive(self) -> bool:
        """Still running (a zombie, already dead, does not count)."""
        now = _stat(self.pid)
        return now is not None and now[2] == self.start_ticks and now[1] != "Z"


def _stat(pid: int) -> tuple[int, str, int, str] | None:
    """(ppid, state, start time, name) of `pid`, or None when it is gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may itself contain spaces or parentheses.
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19]), name


def descendants(root: int) -> list[Proc]:
    """Every living process below `root` (children, their children, ...)."""
    parents: dict[int, list[int]] = {}
    info: dict[int, tuple[int, str, int, str]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                info[int(entry.name)] = stat
                parents.setdefault(stat[0], []).append(int(entry.name))
    found: list[Proc] = []
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        _, state, start, name = info[pid]
        if state != "Z":
            found.append(Proc(pid, start, name))
        todo += parents.get(pid, [])
    return found


def everyone() -> list[Proc]:
    """Every living process of the machine (as far as this PID namespace shows)."""
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] != "Z":
                found.append(Proc(int(entry.name), stat[2], stat[3]))
    return found


def _listening_inodes() -> dict[int, int]:
    """socket inode → port, for every TCP socket listening on any IPv4/IPv6 address."""
    inodes: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (_PROC / "net" / table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == _LISTEN:
                    inodes[int(cols[9])] = int(cols[1].rsplit(":", 1)[1], 16)
    return inodes


def listening_ports(procs: list[Proc]) -> dict[int, Proc]:
    """port → the process among `procs` that listens on it."""
    inodes = _listening_inodes()
    ports: dict[int, Proc] = {}
    for proc in procs:
        with contextlib.suppress(OSError):
            for fd in (_PROC / str(proc.pid) / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inode = int(target[len("socket:[") : -1])
                        if inode in inodes:
                            ports[inodes[inode]] = proc
    return ports
