"""The listening sockets of the HTTP ports: one that cannot be bound is a bad setting."""

from __future__ import annotations

import errno
import socket

from eventbridge.settings import SettingsError, key_name


def listening_socket(
    host: str, port: int, *, host_key: tuple[str, str], port_key: tuple[str, str], backlog: int
) -> socket.socket:
    """A socket bound to host:port and listening, or SettingsError naming the setting at fault:
    a port in use or below 1024 names the port's key, an address this machine does not have
    names the host's. Bound before uvicorn starts, which would otherwise `sys.exit` on it."""
    try:
        return socket.create_server((host, port), backlog=backlog)
    except socket.gaierror as exc:
        raise SettingsError(f"{key_name(host_key)}: {host!r} is not an address: {exc}") from None
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            problem, key = f"{host!r} is not an address of this machine", host_key
        elif exc.errno == errno.EADDRINUSE:
            problem, key = f"{host}:{port} is already in use by another process", port_key
        elif exc.errno == errno.EACCES:
            problem, key = f"{host}:{port} needs privileges this process lacks", port_key
        else:
            problem, key = f"cannot listen on {host}:{port}: {exc.strerror}", port_key
        raise SettingsError(f"{key_name(key)}: {problem}") from None
