"""`eventbridge run`: bridge and gateway from one container, with one set of telemetry providers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import jwt
import orjson

from eventbridge.gateway_runtime import run_all
from eventbridge.settings import EventBridgeSettings
from simulator.genesis import generate_n
from simulator.processes import free_port
from simulator.produce import produce_all
from simulator.services import Services
from tests.integration.bridge_env import BridgeRun
from tests.integration.gateway.harness import SECRET, eventually
from tests.integration.gateway.sse_client import open_stream

USER = "1"
REDIS_ACK = 'eventbridge_end_to_end_seconds_count{stage="redis_ack"}'


def test_run_delivers_end_to_end_and_both_ports_serve_the_one_process_metrics(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    bridge_port, gateway_port = free_port(), free_port()
    run = BridgeRun(
        real_services, unique, tmp_path, partitions=1, bridge={"http_port": bridge_port}
    )
    settings = EventBridgeSettings(
        **run.settings,  # type: ignore[arg-type]
        gateway={"host": "127.0.0.1", "port": gateway_port, "drain_s": 1.0},  # type: ignore[arg-type]
        auth={"secret": SECRET},  # type: ignore[arg-type]
    )
    records = generate_n(30, seed=7, users=1, bad_ratio=0.0)
    expected = [
        str(r.expect.event_id)
        for r in records
        if r.expect.outcome == "delivered" and r.expect.user_id == USER
    ]
    assert expected
    base = f"http://127.0.0.1:{gateway_port}"
    token = jwt.encode({"sub": USER, "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{base}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def scenario() -> dict[str, str]:
        await run.create_topic()
        stop = asyncio.Event()
        both = asyncio.create_task(run_all(settings, stop))
        try:
            await eventually(ready, "the gateway of `run` to be ready", within=60)
            async with open_stream(base, token=token) as stream:
                await stream.next()  # retry: the connection is registered
                await produce_all(real_services.kafka_bootstrap, run.topic, records)
                frames = await stream.messages(len(expected), within=60)
            assert [orjson.loads(f.text)["event_id"] for f in frames] == expected
            scraped: dict[str, str] = {}

            async def booked() -> bool:
                # A write is booked (and so counted) after the client may already have its
                # events: the bridge books it once its next fetch returns.
                async with httpx.AsyncClient(timeout=5) as client:
                    scraped["bridge"] = (
                        await client.get(f"http://127.0.0.1:{bridge_port}/metrics")
                    ).text
                    scraped["gateway"] = (await client.get(f"{base}/metrics")).text
                return all(REDIS_ACK in body for body in scraped.values())

            await eventually(booked, "the bridge to book the delivered events", within=10)
        finally:
            stop.set()
            await asyncio.wait_for(both, 30)  # both stop cleanly, the container closes once
        return scraped

    scraped = asyncio.run(scenario())
    for port, body in scraped.items():
        for series in (
            REDIS_ACK,
            'eventbridge_end_to_end_seconds_count{stage="sse_write"}',
            "eventbridge_events_consumed_total",
            "eventbridge_sse_sent_total",
        ):
            assert series in body, (port, series)
