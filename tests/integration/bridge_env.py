"""Helpers for running real bridge processes against the real Kafka and Redis in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from eventbridge.cli import main as eventbridge_main
from simulator.bridge_process import EventBridgeProcess, settings_env
from simulator.genesis_model import SimRecord
from simulator.produce import produce_paced
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import Verification, group_backlog, read_streams, read_topic, verify


class BridgeRun:
    """One test's topic, group and Redis prefix, and the bridge processes working on them."""

    def __init__(
        self,
        services: Services,
        unique: str,
        tmp: Path,
        *,
        partitions: int = 6,
        **overrides: dict[str, Any],
    ) -> None:
        self.services = services
        self.topic = f"genesis-{unique}"
        self.group = f"eventbridge-{unique}"
        self.prefix = f"t{unique}:user:"
        self.partitions = partitions
        self.tmp = tmp
        self.settings: dict[str, dict[str, Any]] = {
            "kafka": {
                "bootstrap_servers": services.kafka_bootstrap,
                "topic": self.topic,
                "group_id": self.group,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            "redis": {
                "url": services.redis_url,
                "cluster": services.redis_cluster,
                "sse_prefix": self.prefix,
                "session_prefix": f"t{unique}:session:",
            },
            "bridge": {"commit_interval_s": 0.3, "http_port": 0},
            "metrics": {"log_level": "INFO"},
        }
        for section, values in overrides.items():
            self.settings.setdefault(section, {}).update(values)
        self._count = 0

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    def bridge(self, replica: int = 0) -> EventBridgeProcess:
        """A new bridge process; bridges running side by side are different `replica`s (each
        its own static member), a bridge started again after a crash is the same one."""
        self._count += 1
        kafka = {**self.settings["kafka"], "instance_ordinal": replica}
        settings = {**self.settings, "kafka": kafka}
        return EventBridgeProcess("bridge", settings, self.tmp / f"bridge-{self._count}.log")

    async def create_topic(self) -> None:
        await create_topics_async(self.services.kafka_bootstrap, {self.topic: self.partitions})

    def produce_steadily(
        self, records: list[SimRecord], rate: float, *, stop: asyncio.Event | None = None
    ) -> asyncio.Task[int]:
        """Produce `records` at `rate` per second in the background (a live run), or the
        first of them until `stop` is set; the task's result is how many were sent."""
        paced = [replace(r, at=i / rate) for i, r in enumerate(records)]
        return asyncio.create_task(
            produce_paced(self.services.kafka_bootstrap, self.topic, paced, stop=stop)
        )

    async def backlog(self) -> int:
        return await group_backlog(self.services.kafka_bootstrap, self.topic, self.group)

    async def wait_for(
        self,
        condition: Callable[[], Any],
        what: str,
        timeout_s: float = 90,
        *,
        alive: Sequence[EventBridgeProcess] = (),
    ) -> None:
        """Poll an async condition until true, failing with `what` at the deadline, or at once
        when one of the `alive` processes exited."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [p for p in alive if not p.running]
            if dead:
                tail = dead[0].log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"a bridge exited while waiting for {what}:\n{tail}")
            if await condition():
                return
            await asyncio.sleep(0.2)  # polling external processes with a deadline
        raise AssertionError(f"timed out waiting for {what}")

    async def wait_drained(
        self, timeout_s: float = 120, *, alive: Sequence[EventBridgeProcess] = ()
    ) -> None:
        async def drained() -> bool:
            return await self.backlog() == 0

        await self.wait_for(drained, "the bridge to commit every record", timeout_s, alive=alive)

    async def run_until_drained(self, timeout_s: float = 60) -> EventBridgeProcess:
        """One bridge process, alive until it committed every record, then stopped cleanly."""
        bridge = self.bridge()
        bridge.start()
        try:
            await self.wait_drained(timeout_s=timeout_s, alive=[bridge])
        finally:
            code = bridge.terminate()
        assert code == 0, f"the bridge exited with {code}"
        return bridge

    def cli_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """This run's settings in the environment, for `eventbridge` commands run in-process."""
        for key, value in settings_env(self.settings).items():
            monkeypatch.setenv(key, value)

    async def verification(self, records: list[SimRecord]) -> Verification:
        streams = await read_streams(
            self.services.redis_url, self.prefix, cluster=self.services.redis_cluster
        )
        dlq = await read_topic(self.services.kafka_bootstrap, self.dlq_topic)
        return verify(records, streams, dlq)


def summed(process: EventBridgeProcess, field: str) -> int:
    """The sum of `field` over the process's per-batch log lines."""
    return sum(int(e.get(field) or 0) for e in process.log_entries() if e.get("message") == "batch")


def messages(process: EventBridgeProcess) -> list[str]:
    return [str(e.get("message")) for e in process.log_entries()]


def dlq_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """`eventbridge dlq <argv>` run in-process (settings from `BridgeRun.cli_env`): its lines."""
    capsys.readouterr()
    assert eventbridge_main(["dlq", *argv]) == 0
    return capsys.readouterr().out.splitlines()
