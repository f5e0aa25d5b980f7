"""Health endpoints, graceful drain, and a Redis restart under open streams."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from simulator.services import Services
from tests.integration.gateway.harness import GatewayHarness, eventually
from tests.integration.gateway.sse_client import open_stream


async def _status(gw: GatewayHarness, path: str) -> int:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
        return (await client.get(path)).status_code


async def _is(gw: GatewayHarness, path: str, status: int) -> bool:
    return await _status(gw, path) == status


def test_health_endpoints_and_a_graceful_drain_that_ends_open_streams(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as streams:
            async with gw.serve():
                assert await _status(gw, "/livez") == 200
                # Ready once the subscription is confirmed, a moment after listening.
                await eventually(lambda: _is(gw, "/readyz", 200), "the gateway to be ready")
                async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
                    ready = (await client.get("/readyz")).json()
                assert (ready["redis"], ready["subscription"], ready["draining"]) == (
                    "up",
                    "up",
                    False,
                )
                assert ready["tasks"] == {"subscription": "up", "tick": "up", "lease_renewal": "up"}
                assert await _status(gw, "/demo") == 404  # off unless enabled
                stream = await streams.enter_async_context(
                    open_stream(gw.base_url, token=gw.token("u1"))
                )
                await stream.next()
                ids = await gw.publish("u1", 1)
                assert [f.id for f in await stream.messages(1)] == ids
            # Leaving `serve()` set `stop`: the gateway drained, so the stream ended cleanly,
            # with a last frame that says why and where to resume.
            frames = await stream.until_end(within=5)
            assert [(f.event, f.json(), f.id) for f in frames] == [
                ("closing", {"reason": "shutdown"}, ids[-1])
            ]
            assert stream.ended
            assert not stream.broken
        assert gw.telemetry.closed == {"shutdown": 1}

    asyncio.run(scenario())


def test_open_streams_survive_a_redis_restart_and_miss_nothing(
    real_services: Services, unique: str
) -> None:
    redis = real_services.redis
    if redis is None:
        pytest.skip("Redis is not a local process this test may restart")
    gw = GatewayHarness(real_services, unique, gateway={"heartbeat_s": 0.5})

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            before = await gw.publish("u1", 3)
            assert [f.id for f in await stream.messages(3)] == before
            # Blocking on purpose: redis-server dies with the thread that started it
            # (PR_SET_PDEATHSIG), so it must be (re)started from this, the main, thread.
            redis.stop()

            await eventually(lambda: _is(gw, "/readyz", 503), "/readyz to report Redis down")
            redis.start()
            await eventually(lambda: _is(gw, "/readyz", 200), "/readyz to recover", within=20)
            after = await gw.publish("u1", 3)
            assert [f.id for f in await stream.messages(3, within=15)] == after

    asyncio.run(scenario())


def test_the_gateway_serves_its_own_prometheus_metrics(
    real_services: Services, unique: str
) -> None:
    from eventbridge.gateway_runtime import run_gateway

    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_gateway(gw.settings, stop, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            async with open_stream(gw.base_url, token=gw.token("u1")) as stream:
                await stream.next()  # the stream is open: one connection is counted
                async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
                    refused = await client.get("/v1/events")  # no token
                    body = (await client.get("/metrics")).text
            assert refused.status_code == 401
            assert "eventbridge_sse_connections 1.0" in body
            assert 'eventbridge_sse_disconnects_total{reason="slow_client"} 0.0' in body
            assert "eventbridge_sse_rejected_total{" in body
            assert "u1" not in body  # never a user id in a label
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(scenario())


def test_metrics_gateway_port_moves_metrics_off_the_public_port(
    real_services: Services, unique: str
) -> None:
    """With `metrics.gateway_port`, a balancer in front of the public port cannot expose the
    metrics: the public port answers 404 (in the JSON error shape) and the other serves them."""
    from simulator.processes import free_port

    metrics_port = free_port()
    gw = GatewayHarness(real_services, unique, metrics={"gateway_port": metrics_port})

    async def scenario() -> None:
        async with gw.serve(otel=True), httpx.AsyncClient(timeout=5) as client:
            public = await client.get(f"{gw.base_url}/metrics")
            private = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
            other = await client.get(f"http://127.0.0.1:{metrics_port}/v1/events")
        assert public.status_code == 404
        assert public.json()["error"] == "not_found"
        assert private.status_code == 200
        assert "eventbridge_sse_connections" in private.text
        assert other.status_code == 404  # the metrics listener serves nothing else

    asyncio.run(scenario())
