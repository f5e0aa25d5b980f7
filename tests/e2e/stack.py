"""A real bridge and a real gateway process over one test's topic and keys, for browser tests."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import redis

from adapters.redis.keys import RedisKeys
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from simulator.processes import free_port
from simulator.produce import produce_all, produce_paced
from simulator.services import Services
from simulator.topics import create_topics

USER = "1"
SECRET = "e2e-browser-secret-of-at-least-32-bytes!"
COOKIE = "eb_session"


def records_for(n: int, seed: int) -> tuple[list[SimRecord], list[str]]:
    """`n` records of one user's traffic, and the event ids that user must receive, in order."""
    records = generate_n(n, seed=seed, users=1, bad_ratio=0.0)
    expected = [
        str(r.expect.event_id)
        for r in records
        if r.expect.outcome == "delivered" and r.expect.user_id == USER
    ]
    return records, expected


def event_types(records: list[SimRecord]) -> list[str]:
    return sorted({str(r.expect.event_type) for r in records if r.expect.outcome == "delivered"})


def split_after(records: list[SimRecord], expected: list[str], n: int) -> int:
    """The index in `records` right after the record of the `n`-th expected event."""
    wanted = expected[n - 1]
    return next(i for i, r in enumerate(records) if str(r.expect.event_id) == wanted) + 1


class BrowserStack:
    """`eventbridge bridge` and `eventbridge gateway` as child processes; the gateway can be
    killed, stopped and started again on the same port. The demo's token endpoint is on."""

    def __init__(
        self, services: Services, unique: str, tmp: Path, **overrides: dict[str, Any]
    ) -> None:
        self.services = services
        self.tmp = tmp
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.topic = f"genesis-{unique}"
        self.settings: dict[str, dict[str, Any]] = {
            "kafka": {
                "bootstrap_servers": services.kafka_bootstrap,
                "topic": self.topic,
                "group_id": f"eventbridge-{unique}",
            },
            "redis": {
                "url": services.redis_url,
                "sse_prefix": f"t{unique}:user:",
                "session_prefix": f"t{unique}:session:",
                "ticket_prefix": f"t{unique}:ticket:",
            },
            "bridge": {"commit_interval_s": 0.3, "http_port": 0},
            "gateway": {
                "port": self.port,
                "demo_enabled": True,
                "demo_user": USER,
                "drain_s": 2,
                "retry_ms": 500,  # the browser's own reconnect delay (cookie path)
            },
            "auth": {"secret": SECRET, "cookie_name": COOKIE},
        }
        for section, values in overrides.items():
            self.settings.setdefault(section, {}).update(values)
        r = self.settings["redis"]
        self.keys = RedisKeys(r["sse_prefix"], r["session_prefix"], r["ticket_prefix"])
        self.bridge = EventBridgeProcess("bridge", self.settings, tmp / "bridge.log")
        self.gateway: EventBridgeProcess | None = None
        self._gateways = 0

    def start(self) -> None:
        # One partition: the user's sessions then reach Redis in produced order.
        create_topics(self.services.kafka_bootstrap, {self.topic: 1})
        self.bridge.start()
        self.start_gateway()

    def start_gateway(self) -> None:
        self._gateways += 1
        log = self.tmp / f"gateway-{self._gateways}.log"
        self.gateway = EventBridgeProcess("gateway", self.settings, log)
        self.gateway.start()
        deadline = time.monotonic() + 30
        while not self._alive():
            if not self.gateway.running:
                raise AssertionError(f"the gateway exited:\n{log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("the gateway did not answer /livez within 30 s")
            time.sleep(0.05)  # polling a child process with a deadline

    def _alive(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/livez", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill_gateway(self) -> None:
        """SIGKILL: no drain, no closing frame, leases left to expire — a crash."""
        assert self.gateway is not None
        self.gateway.kill()
        self.gateway = None

    def stop_gateway(self) -> None:
        """SIGTERM: the gateway drains (each stream ends with `event: closing`)."""
        assert self.gateway is not None
        assert self.gateway.terminate() == 0
        self.gateway = None

    def close(self) -> None:
        if self.gateway is not None:
            self.stop_gateway()
        assert self.bridge.terminate() == 0

    def produce(self, records: list[SimRecord]) -> None:
        asyncio.run(produce_all(self.services.kafka_bootstrap, self.topic, records))

    def produce_paced(self, records: list[SimRecord], rate: float) -> None:
        """Produce `records` at `rate` per second (this blocks for len/rate seconds)."""
        paced = [replace(r, at=i / rate) for i, r in enumerate(records)]
        asyncio.run(produce_paced(self.services.kafka_bootstrap, self.topic, paced))

    def stream(self) -> list[tuple[str, str]]:
        """(stream id, event id) of every entry the user's stream holds now, oldest first."""
        with redis.Redis.from_url(self.services.redis_url) as client:
            entries = client.xrange(self.keys.stream(USER))
        return [(sid.decode(), fields[b"i"].decode()) for sid, fields in entries]

    def wait_in_stream(self, event_ids: list[str], timeout_s: float = 60) -> None:
        """Until the bridge has written every one of `event_ids` (or they were trimmed after)."""
        deadline = time.monotonic() + timeout_s
        last = event_ids[-1]
        while last not in {e for _, e in self.stream()}:
            if time.monotonic() > deadline:
                raise AssertionError("the bridge did not deliver the events to Redis in time")
            time.sleep(0.1)  # polling Redis for a child process's writes, with a deadline

    def connections(self) -> int:
        """Open SSE connections on the gateway (its /readyz)."""
        body = httpx.get(f"{self.base_url}/readyz", timeout=2).json()
        return int(body["connections"])

    def demo_token(self) -> str:
        response = httpx.post(f"{self.base_url}/demo/token", timeout=5)
        response.raise_for_status()
        return str(response.json()["token"])
