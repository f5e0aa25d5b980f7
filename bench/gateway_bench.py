"""Gateway benchmark: N idle SSE connections on one gateway process, memory and latency.

    .venv/bin/python -m bench.gateway_bench --connections 10000 --rate 200 --duration 20

The gateway runs as a child process (`--serve`); clients are raw asyncio sockets in this one.
Redis comes from REDIS_URL, else a local redis-server is started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import jwt
import orjson

from adapters.redis.client import make_client
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from domain.model import SseMessage
from eventbridge.cli import install_stop_signals
from eventbridge.gateway_runtime import run_gateway
from eventbridge.logs import configure_logging
from eventbridge.settings import load_settings
from simulator.processes import free_port, spawn
from simulator.services import services

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


async def publish(redis_url: str, prefix: str, users: list[str], rate: float, secs: float) -> int:

    settings = RedisSettings(url=redis_url, sse_prefix=prefix, session_prefix=prefix + "s:")
    client = make_client(settings)
    store = RedisStreamStore(client=client, settings=settings)
    rng, tick, sent = random.Random(1), 0.01, 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < secs:
            due = int(elapsed * rate) - sent
            batch = []
            for _ in range(max(due, 0)):
                eid, user = str(uuid.uuid4()), rng.choice(users)
                data = orjson.dumps({"event_id": eid, "payload": {"t": time.time()}})
                batch.append(SseMessage(user, "s", eid, "Genesis.Session.Bench", data))
            if batch:
                await store.publish(batch)
                sent += len(batch)
            await asyncio.sleep(tick)  # pacing the load itself
    finally:
        await client.aclose()
    return sent


def run_bench(args: argparse.Namespace, redis_url: str) -> None:
    """Start the gateway child, measure, and stop it (with a task dump if it hangs)."""

    port, prefix = free_port(), f"bench{uuid.uuid4().hex[:6]}:user:"
    env = {
        **os.environ,
        "EVENTBRIDGE__REDIS__URL": redis_url,
        "EVENTBRIDGE__REDIS__SSE_PREFIX": prefix,
        "EVENTBRIDGE__REDIS__MAX_CONNECTIONS": str(args.redis_pool),
        "EVENTBRIDGE__GATEWAY__PORT": str(port),
        "EVENTBRIDGE__GATEWAY__HEARTBEAT_S": str(args.heartbeat),
        "EVENTBRIDGE__AUTH__SECRET": SECRET,
        "EVENTBRIDGE__METRICS__LOG_LEVEL": "WARNING",
    }
    log = Path(tempfile.mkdtemp(prefix="gateway-bench-")) / "gateway.log"
    # spawn(): the gateway dies with this process, even if this one is killed.
    child = spawn([sys.executable, "-m", "bench.gateway_bench", "--serve"], log=log, env=env)
    print(f"gateway log: {log}")
    try:
        asyncio.run(bench(args, redis_url, port, prefix, child.pid))
    finally:
        try:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(30)  # the run sent SIGTERM itself, unless it failed before
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                child.wait(30)
            print(f"gateway exit code {child.returncode}")
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)
            time.sleep(2)  # let it write the task dump
            child.kill()
            print(f"gateway did not stop within 60s; task dump in {log}")


async def bench(args: argparse.Namespace, redis_url: str, port: int, prefix: str, pid: int) -> None:
    await wait_ready(port)
    latencies: list[float] = []
    warm = await open_all(port, [f"w{i}" for i in range(100)], latencies)
    for c in warm:
        assert c.transport is not None
        c.transport.close()
    await asyncio.sleep(2)  # let the gateway release the warm-up connections
    base = rss_kib(pid)
    users = [f"u{i}" for i in range(args.connections)]
    t0 = time.monotonic()
    clients = await open_all(port, users, latencies)
    opened_s = time.monotonic() - t0
    await asyncio.sleep(3)  # settle: idle connections only
    per_conn = (rss_kib(pid) - base) * 1024 / len(clients)
    print(f"connections open: {len(clients)} in {opened_s:.1f}s")
    print(
        f"gateway RSS: baseline {base / 1024:.1f} MiB, with connections "
        f"{rss_kib(pid) / 1024:.1f} MiB, per idle connection {per_conn / 1024:.1f} KiB"
    )
    cpu0 = cpu_s(pid)
    sent = await publish(redis_url, prefix, users, args.rate, args.duration)
    deadline = time.monotonic() + 30
    while len(latencies) < sent and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # waiting for the last deliveries with a deadline
    cpu = (cpu_s(pid) - cpu0) / args.duration
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    print(
        f"events: published {sent} at {args.rate}/s over {args.duration}s, delivered "
        f"{len(ms)}; latency Redis write -> client p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, "
        f"max {ms[-1]:.1f} ms; gateway CPU {cpu * 100:.0f}% of one core"
    )
    # Graceful drain with every connection open: SIGTERM, then each stream must end.
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while sum(c.closed for c in clients) < len(clients) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # waiting for the streams to end, with a deadline
    ended = sum(c.closed for c in clients)
    print(f"drain: {ended}/{len(clients)} streams ended in {time.monotonic() - started:.1f}s")
    for c in clients:
        assert c.transport is not None
        c.transport.close()


def serve() -> None:

    raise_fd_limit()
    settings = load_settings()
    configure_logging(level=settings.metrics.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)

        def dump_tasks() -> None:  # SIGUSR1: where is every task right now?
            for task in asyncio.all_tasks():
                task.print_stack(limit=6, file=sys.stderr)

        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
        await run_gateway(settings, stop)

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second, all users")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--heartbeat", type=float, default=15.0)
    parser.add_argument("--redis-pool", type=int, default=64, help="gateway's Redis pool")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    print(f"fd limit {raise_fd_limit()}")
    # The measuring process holds N connections too: keep its GC pauses out of the figures.
    gc.set_threshold(50_000, 20, 100)
    url = os.environ.get("REDIS_URL")
    if url:
        run_bench(args, url)
        return

    with services(need_kafka=False) as provided:
        run_bench(args, provided.redis_url)


if __name__ == "__main__":
    main()
