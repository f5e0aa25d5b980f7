"""Library errors and dead background work, through a real gateway: 503 JSON, never a 500; a
dead loop is restarted (and not ready meanwhile); one that keeps dying takes the process down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from adapters.redis.leases import RedisLeases
from adapters.redis.tickets import RedisTickets
from simulator.processes import free_port, spawn, stop
from simulator.services import Services
from tests.integration.gateway.harness import SECRET, GatewayHarness, eventually, get
from tests.integration.gateway.sse_client import open_stream

ROOT = Path(__file__).resolve().parents[3]


def _is_unavailable_json(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers["content-type"].startswith("application/json")
        and "Traceback" not in response.text
    )


def test_a_gateway_whose_redis_is_no_cluster_answers_503_json_and_never_500(
    real_services: Services, unique: str
) -> None:
    # redis-py's Cluster client raises RedisClusterException, which is not a RedisError.
    gw = GatewayHarness(real_services, unique, redis={"cluster": True, "connect_timeout_s": 0.5})

    async def scenario() -> None:
        bearer = {"authorization": f"Bearer {gw.token('u1')}"}
        async with gw.serve(), httpx.AsyncClient(base_url=gw.base_url, timeout=10) as client:
            responses = {
                "ticket": await client.post("/v1/sse-tickets", headers=bearer),
                "events": await client.get("/v1/events", headers=bearer),
                "ticket stream": await client.get("/v1/events", params={"ticket": "t" * 43}),
                "readyz": await client.get("/readyz"),
            }
        for name, response in responses.items():
            assert _is_unavailable_json(response), (name, response.status_code, response.text)
        assert responses["ticket"].json()["reason"] == "store_unavailable"
        assert responses["events"].json()["reason"] == "store_unavailable"
        assert responses["readyz"].json()["redis"] == "down"

    asyncio.run(scenario())


def test_a_bug_in_a_request_answers_a_json_500_without_a_traceback(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique)

    async def a_bug(*_: Any) -> None:
        raise KeyError("injected: a bug while issuing a ticket")

    async def scenario() -> httpx.Response:
        async with gw.serve(), httpx.AsyncClient(base_url=gw.base_url, timeout=5) as client:
            headers = {"authorization": f"Bearer {gw.token('u1')}"}
            return await client.post("/v1/sse-tickets", headers=headers)

    with mock.patch.object(RedisTickets, "issue", a_bug):
        response = asyncio.run(scenario())
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "reason": "internal_error",
        "message": "an internal error occurred",
    }
    assert "injected" not in response.text


def test_a_notification_the_gateway_cannot_read_makes_it_read_the_stream_and_live_goes_on(
    real_services: Services, unique: str
) -> None:
    gw = GatewayHarness(real_services, unique, gateway={"heartbeat_s": 30})

    async def scenario() -> None:
        async with gw.serve(), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            await stream.next()  # retry: the connection is registered and subscribed
            async with gw.redis() as client:
                # An entry written behind the bridge's back, then garbage on the user's channel
                # (not UTF-8, lengths that do not add up): the gateway reads the stream instead.
                behind = await client.xadd(gw.keys.stream("u1"), {"e": "T", "s": "s", "d": "{}"})
                channel = gw.keys.notify("u1")
                for garbage in (b"\xff\xfe", b"E 0-0 9-9 1 9-9 5 5 5\nabc", b"E 1 2"):
                    assert await client.execute_command("SPUBLISH", channel, garbage) == 1
            [read] = await stream.messages(1, within=10)  # heartbeats are 30 s away
            assert read.id == behind.decode()
            ids = await gw.publish("u1", 2)
            assert [f.id for f in await stream.messages(2, within=10)] == ids
            assert (await get(gw, "/readyz")).status_code == 200

    asyncio.run(scenario())


def test_a_dead_background_loop_is_restarted_counted_and_unready_until_then(
    real_services: Services, unique: str
) -> None:
    # A renewal every 0.5 s (the heartbeat). The first two hit a bug: with the default backoff
    # the loop is down 0.5 s, up 0.5 s, down 1 s, then stays up; the 30 s lease never lapses.
    gw = GatewayHarness(real_services, unique, gateway={"heartbeat_s": 0.5, "lease_s": 30})
    real_renew = RedisLeases.renew
    calls = 0

    async def renew_with_a_bug_twice(self: RedisLeases, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("injected: an unexpected error in lease renewal")
        await real_renew(self, *args, **kwargs)

    async def scenario() -> None:
        down: list[dict[str, Any]] = []

        async def readiness_was(status: int) -> bool:
            response = await get(gw, "/readyz")
            if response.status_code == 503:
                down.append(response.json())
            return response.status_code == status

        async def renewing_again() -> bool:
            return calls >= 3

        async with gw.serve(otel=True), open_stream(gw.base_url, token=gw.token("u1")) as stream:
            await eventually(lambda: readiness_was(200), "the gateway to be ready")
            await eventually(lambda: readiness_was(503), "readiness to see the loop dead")
            await eventually(renewing_again, "the restarted loop to renew")
            await eventually(lambda: readiness_was(200), "readiness to see it back")
            assert down[0]["tasks"] == {"subscription": "up", "tick": "up", "lease_renewal": "down"}
            assert down[0]["redis"] == "up"
            metrics = (await get(gw, "/metrics")).text
            ids = await gw.publish("u1", 1)
            assert [f.id for f in await stream.messages(1)] == ids  # the stream never noticed
            async with gw.redis() as client:  # and its lease is renewed again
                [(_, expiry)] = await client.zrange(gw.keys.conns("u1"), 0, -1, withscores=True)
            assert expiry > (time.time() + 29) * 1000
        assert 'eventbridge_gateway_task_restarts_total{task="lease_renewal"} 2.0' in metrics
        assert 'eventbridge_gateway_task_restarts_total{task="tick"} 0.0' in metrics

    with mock.patch.object(RedisLeases, "renew", renew_with_a_bug_twice):
        asyncio.run(scenario())


SCRIPT = textwrap.dedent(
    """
    import sys

    from adapters.redis.leases import RedisLeases
    from eventbridge.cli import main


    async def renew(self, *args, **kwargs):
        raise RuntimeError("injected: lease renewal always fails")


    RedisLeases.renew = renew
    sys.exit(main(["gateway"]))
    """
)


def test_a_gateway_whose_background_loop_keeps_dying_exits_non_zero(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "EVENTBRIDGE__REDIS__URL": real_services.redis_url,
        "EVENTBRIDGE__REDIS__SSE_PREFIX": f"t{unique}:user:",
        "EVENTBRIDGE__AUTH__SECRET": SECRET,
        "EVENTBRIDGE__GATEWAY__PORT": str(port),
        # A renewal every 0.1 s; the default restart policy (5 restarts, 0.5 s doubling) then
        # gives up after about 16 s.
        "EVENTBRIDGE__GATEWAY__LEASE_S": "0.3",
    }
    script, log = tmp_path / "gateway_with_a_bug.py", tmp_path / "gateway.log"
    script.write_text(SCRIPT)
    proc = spawn([sys.executable, str(script)], log=log, env=env)
    try:
        code = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        stop(proc)
    output = log.read_text(errors="replace")
    assert code == 1, f"exit code {code}; the gateway limped on:\n{output[-3000:]}"
    assert "background task 'lease_renewal' died 6 times" in output
    assert "injected: lease renewal always fails" in output
