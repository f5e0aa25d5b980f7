"""A local nginx from Debian balancing HTTP (and SSE) over gateways, run as our own process."""

from __future__ import annotations

import http.client
import logging
import os
import pwd
import secrets
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from simulator.local_redis import ensure_command
from simulator.local_service import LocalService, with_new_ports
from simulator.processes import free_port, release_port, start_serving

log = logging.getLogger("simulator.nginx")

READY_PATH = "/__eventbridge_balancer"
# The response header naming the gateway that answered ("127.0.0.1:PORT").
UPSTREAM_HEADER = "X-EventBridge-Upstream"
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def ensure_nginx() -> str:
    """Path of nginx (in /usr/sbin, often not on a user's PATH), installed with apt if missing."""
    sbin = Path("/usr/sbin/nginx")
    return str(sbin) if sbin.exists() else ensure_command("nginx", "nginx")


def render_conf(
    workdir: Path,
    *,
    port: int,
    upstreams: Sequence[str],
    token: str,
    fail_timeout_s: float,
    worker_connections: int,
    workers: int = 1,
) -> str:
    """nginx.conf: every path inside `workdir`, one worker, the gateways as one upstream,
    proxying configured for Server-Sent Events."""
    temp = "\n".join(f"    {name}_temp_path {workdir / name};" for name in _TEMP_PATHS)
    servers = "\n".join(
        f"        server {address} max_fails=1 fail_timeout={fail_timeout_s:g}s;"
        for address in upstreams
    )
    # Workers of a master run by root would switch to `nobody`, who may not enter workdir.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    # Several workers share the port (SO_REUSEPORT): each has its own connection slots and
    # file limit, the way past one process's RLIMIT_NOFILE (2 per proxied connection).
    reuse = " reuseport" if workers > 1 else ""
    return f"""{user}worker_processes {workers};
worker_rlimit_nofile {2 * worker_connections + 64};
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections {worker_connections}; }}
http {{
    # Which gateway served each request; $uri, not $request_uri: a ticket in the query string
    # is a credential and stays out of logs.
    log_format upstream '$time_iso8601 $status $request_method $uri upstream=$upstream_addr';
    access_log {workdir / "access.log"} upstream;
{temp}
    upstream gateways {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port}{reuse};
        # Tells our readiness check that this nginx is ours, not another on the port.
        location = {READY_PATH} {{ return 200 "{token}"; }}
        location / {{
            proxy_pass http://gateways;
            # HTTP/1.1 and no "Connection: close": keep-alive to the gateways, chunked SSE.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Every other request header (Authorization, Cookie, Last-Event-ID) is passed as
            # sent. Each SSE frame goes to the browser as the gateway writes it; a gateway's
            # X-Accel-Buffering header is honoured (it is not in proxy_ignore_headers).
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_connect_timeout 2s;
            # A gateway that refuses or times out is skipped (only before a response began).
            proxy_next_upstream error timeout;
            proxy_next_upstream_timeout 10s;
            # Which gateway answered, for the load runner's browsers and the tests (a fault's
            # scope, a limit refused whichever gateway it landed on); on errors too.
            add_header {UPSTREAM_HEADER} $upstream_addr always;
        }}
    }}
}}
"""


def answered_by(headers: Mapping[str, str]) -> str | None:
    """The gateway ("127.0.0.1:PORT") that answered a response that came through the
    balancer; None without the header (a gateway reached directly). A request retried on
    another gateway names both ("A, B"): the last one answered."""
    value = next((v for k, v in headers.items() if k.lower() == UPSTREAM_HEADER.lower()), "")
    last = value.rsplit(",", 1)[-1].strip()
    return last if last and last != "-" else None


def _answers(port: int, token: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", READY_PATH)
        response = conn.getresponse()
        return response.status == 200 and response.read().decode() == token
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class LocalBalancer(LocalService):
    """nginx in front of `upstreams` ("127.0.0.1:PORT" each) on a reserved loopback port.
    `nginx -p <workdir> -c <conf> -e <log> -g 'daemon off;'`: no root-owned path is used,
    the pid file and temp files live in `workdir`, and it is stopped by PID."""

    def __init__(
        self,
        workdir: Path,
        upstreams: Sequence[str],
        *,
        pick_port: Callable[[], int] = free_port,
        fail_timeout_s: float = 2.0,
        worker_connections: int = 16384,
        workers: int = 1,
    ) -> None:
        if not upstreams:
            raise ValueError("a balancer needs at least one upstream")
        super().__init__()
        self.workdir = workdir
        self.upstreams = list(upstreams)
        self.fail_timeout_s = fail_timeout_s
        self.worker_connections = worker_connections
        self.workers = workers
        self._pick_port = pick_port
        self.port = pick_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0, *, cancel: threading.Event | None = None) -> float:
        """Write the config, start nginx, return seconds until it answered with this start's
        token; a taken port moves it to a new one."""
        self._not_running()
        binary = ensure_nginx()
        began = time.monotonic()

        def move_port() -> None:
            taken, self.port = self.port, self._pick_port()
            release_port(taken)
            log.warning("balancer port %d is taken; trying %d", taken, self.port)

        with_new_ports(
            lambda: self._start_once(binary, began + timeout_s - time.monotonic(), cancel),
            move_port,
        )
        return time.monotonic() - began

    def _start_once(self, binary: str, timeout_s: float, cancel: threading.Event | None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in _TEMP_PATHS:
            shutil.rmtree(self.workdir / name, ignore_errors=True)
        token = secrets.token_hex(8)
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            render_conf(
                self.workdir,
                port=self.port,
                upstreams=self.upstreams,
                token=token,
                fail_timeout_s=self.fail_timeout_s,
                worker_connections=self.worker_connections,
                workers=self.workers,
            )
        )
        argv = [binary, "-p", str(self.workdir), "-c", str(conf)]
        argv += ["-e", str(self.workdir / "error.log"), "-g", "daemon off;"]
        self._proc = start_serving(
            argv,
            log=self.workdir / "nginx.log",
            ready=lambda _: _answers(self.port, token),
            timeout_s=timeout_s,
            what=f"nginx on port {self.port}",
            cancel=cancel,
        )

    def served_by(self) -> Counter[str]:
        """Finished requests per gateway that answered them, from the access log. A request
        retried on another gateway counts for the last one (nginx logs "A, B")."""
        log_file = self.workdir / "access.log"
        lines = log_file.read_text().splitlines() if log_file.exists() else []
        served = (
            line.rsplit("upstream=", 1)[1].split(", ")[-1] for line in lines if "upstream=" in line
        )
        return Counter(addr for addr in served if addr != "-")  # "-": nginx answered itself

    def close(self) -> None:
        self.stop()
        release_port(self.port)
