"""The gateway benchmark's side of the wire: raw SSE clients, and reading a process's costs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import resource
import time
from pathlib import Path

import jwt

SECRET = "bench-secret-of-at-least-thirty-two-bytes"
_T = re.compile(rb'"t":([0-9.]+)')


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SseClient(asyncio.Protocol):
    """One raw SSE connection: sends the request, records arrival latency of each event."""

    def __init__(self, request: bytes, latencies: list[float], opened: asyncio.Future[bool]):
        self.request, self.latencies, self.opened = request, latencies, opened
        self.buf = b""
        self.head = True
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if self.head:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = self.buf.startswith(b"HTTP/1.1 200")
            if not ok:
                print("refused:", self.buf[:300])
            if not self.opened.done():
                self.opened.set_result(ok)
            self.head, self.buf = False, self.buf[end + 4 :]
        frames = self.buf.split(b"\n\n")
        self.buf = frames.pop()
        for frame in frames:
            match = _T.search(frame)
            if match:
                self.latencies.append(now - float(match[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_result(False)


async def wait_ready(port: int, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        await asyncio.sleep(0.2)  # polling a child process with a deadline
    raise RuntimeError("gateway did not become ready")


async def open_all(port: int, users: list[str], latencies: list[float]) -> list[SseClient]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)
    exp = int(time.time()) + 3600
    clients: list[SseClient] = []
    refused = [0]

    async def one(user: str) -> None:
        token = jwt.encode({"sub": user, "exp": exp}, SECRET, algorithm="HS256")
        request = (
            f"GET /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        for attempt in range(5):  # like a browser: retry a 503/429 after a second
            async with gate:
                opened: asyncio.Future[bool] = loop.create_future()
                transport, client = await loop.create_connection(
                    functools.partial(SseClient, request, latencies, opened), "127.0.0.1", port
                )
                if await asyncio.wait_for(opened, 60):
                    clients.append(client)
                    return
            transport.close()
            refused[0] += 1
            await asyncio.sleep(1 + attempt)  # the server's Retry-After
        raise RuntimeError(f"connection for {user} refused 5 times")

    await asyncio.gather(*(one(u) for u in users))
    if refused[0]:
        print(f"({refused[0]} opens were refused once and retried)")
    return clients
