"""Loopback TCP ports for local services, reserved so nothing else takes them meanwhile."""

from __future__ import annotations

import socket
import threading

# Picking a port by binding port 0 and closing the socket is a race: between the close and the
# service's own bind (seconds, for a JVM), the kernel may give the same port to another bind(0)
# or to an outgoing connection, and the service then fails to start. So the probe socket is kept:
# bound with SO_REUSEADDR but never listening. Linux then skips the port for every bind(0) and
# every connect() (with or without SO_REUSEADDR), while a server that sets SO_REUSEADDR itself —
# redis-server, the JVM's ServerSocketChannel, uvicorn, socket.create_server — can still bind
# and listen on it, and bind it again after a restart. Connections reach the listener only.
_held: dict[int, socket.socket] = {}
_lock = threading.Lock()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, held for this process until
    `release_port()` (or until the process ends)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
    except OSError:
        sock.close()
        raise
    port = int(sock.getsockname()[1])
    with _lock:
        _held[port] = sock
    return port


def release_port(port: int) -> None:
    """Give back a port from `free_port()` (a no-op for any other port)."""
    with _lock:
        sock = _held.pop(port, None)
    if sock is not None:
        sock.close()


def held_ports() -> set[int]:
    """The ports this process holds right now."""
    with _lock:
        return set(_held)


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def bindable(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now (nothing listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
        return True
