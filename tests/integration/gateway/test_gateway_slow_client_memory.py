"""The real gateway process, a client that stops reading while large events arrive: the process's
RSS stays bounded by `gateway.send_buffer_bytes`, the client is cut off as slow (counted by the
bound), and a resume by Last-Event-ID gets every event once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from bench.gateway_clients import rss_kib
from simulator.processes import spawn
from simulator.services import Services
from tests.integration.gateway.harness import SECRET, GatewayHarness, eventually
from tests.integration.gateway.sse_client import Frame, open_stream

pytestmark = pytest.mark.timeout(180)

BUFFER = 262_144  # gateway.send_buffer_bytes, its default
EVENTS, SIZE = 600, 48_000  # ~29 MB of event data: far more than the sockets on the way hold
# What the process may grow by while the client does not read: twice its buffer, what Redis's
# replies and the allocator keep around, and slack for a loaded machine. With the bound in
# messages only (256 x 48 KB queued, the batch before it in the transport, a read page of
# 500) it grows by over 20 MiB.
GROWTH_MAX_KIB = 10 * 1024


def gateway_env(gw: GatewayHarness) -> dict[str, str]:
    r = gw.settings.redis
    return {
        **os.environ,
        "EVENTBRIDGE__REDIS__URL": r.url,
        "EVENTBRIDGE__REDIS__CLUSTER": "true" if r.cluster else "false",
        "EVENTBRIDGE__REDIS__SSE_PREFIX": r.sse_prefix,
        "EVENTBRIDGE__REDIS__SESSION_PREFIX": r.session_prefix,
        "EVENTBRIDGE__REDIS__TICKET_PREFIX": r.ticket_prefix,
        "EVENTBRIDGE__GATEWAY__PORT": str(gw.port),
        "EVENTBRIDGE__GATEWAY__SEND_BUFFER_BYTES": str(BUFFER),
        "EVENTBRIDGE__GATEWAY__SLOW_CLIENT_S": "1.0",
        "EVENTBRIDGE__AUTH__SECRET": SECRET,
        "EVENTBRIDGE__METRICS__LOG_LEVEL": "WARNING",
    }


class PeakRss:
    """The gateway's RSS, sampled every 20 ms in a thread until stopped: the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):  # sampling period, not a wait for a result
            self.peak = max(self.peak, rss_kib(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


async def _cuts(gw: GatewayHarness) -> float:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        body = (await client.get("/metrics")).text
    for line in body.splitlines():
        if line.startswith('eventbridge_gateway_slow_client_cuts_total{bound="bytes"'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_client_that_stops_reading_big_events_leaves_the_gateway_rss_bounded_is_cut_and_resumes(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    gw = GatewayHarness(real_services, unique, redis={"stream_maxlen": 5000})
    argv = [sys.executable, "-m", "eventbridge", "gateway"]
    # spawn(): the gateway dies with this process, even if this one is killed.
    child = spawn(argv, log=tmp_path / "gateway.log", env=gateway_env(gw))

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(base_url=gw.base_url, timeout=2) as client:
                return (await client.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def scenario() -> None:
        await eventually(ready, "the gateway process to be ready", within=60)
        token = gw.token("u1")
        received: list[Frame] = []
        async with open_stream(gw.base_url, token=token) as stream:
            await stream.next()  # retry:
            warm = await gw.publish("u1", 4, size=SIZE)  # read: the allocator has seen them
            received += await stream.messages(len(warm), within=30)
            base = rss_kib(child.pid)
            peak = PeakRss(child.pid)
            # The client stops reading. Direct notifications (one event each) and reads.
            ids = warm + await gw.publish("u1", EVENTS // 2, size=SIZE)
            for _ in range(EVENTS // 2 // 50):
                ids += await gw.publish("u1", 50, size=SIZE)
            await eventually(cut, "the slow reader to be cut off", within=60)
            grown = peak.stop() - base
            received += await stream.until_end(within=60)  # what the sockets held, then the cut
            assert stream.broken
        assert grown < GROWTH_MAX_KIB, f"the gateway grew by {grown} KiB"
        assert 0 < len(received) < len(ids)
        headers = {"last-event-id": received[-1].id or ""}
        async with open_stream(gw.base_url, token=token, headers=headers) as stream:
            received += await stream.messages(len(ids) - len(received), within=60)
        assert [f.id for f in received] == ids  # every event once, in order

    async def cut() -> bool:
        return await _cuts(gw) >= 1

    try:
        asyncio.run(scenario())
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
