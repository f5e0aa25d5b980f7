"""A Redis whose maxmemory-policy evicts keys (allkeys-lru: a Redis set up "as a cache") would
silently drop dedup sets, streams and session owners under memory pressure. The bridge and the
gateway refuse it at start unless `redis.allow_eviction`; a Redis that does not say (CONFIG
renamed away, as on managed services) is warned about once; a policy changed under a running
bridge makes it not ready. Each Redis here is a real redis-server of the test's own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.redis.client import open_client
from adapters.redis.eviction import EvictionPolicy, read_eviction_policy
from adapters.redis.settings import RedisSettings
from simulator.bridge_process import EventBridgeProcess
from simulator.local_redis import LocalRedis
from simulator.processes import free_port
from simulator.redis_cluster import LocalRedisCluster
from simulator.services import Services
from simulator.verify import read_streams
from tests.integration.bridge_env import BridgeRun, messages
from tests.integration.observability.scrape import ready
from tests.integration.raw_events import command_event, event_id_of, produce_raw
from tests.integration.test_bridge_stalls import readyz_until

pytestmark = pytest.mark.timeout(180)

UNKNOWN = "Redis maxmemory-policy unknown: make sure it is noeviction"


@pytest.fixture
def redis_of(tmp_path: Path) -> Iterator[list[LocalRedis]]:
    started: list[LocalRedis] = []
    yield started
    for node in started:
        node.close()


def private_redis(started: list[LocalRedis], tmp: Path, *args: str) -> LocalRedis:
    node = LocalRedis(tmp / f"redis-{len(started)}", args=args)
    started.append(node)
    node.start()
    return node


def exit_code(process: EventBridgeProcess, timeout_s: float = 60) -> int | None:
    deadline = time.monotonic() + timeout_s
    while process.running and time.monotonic() < deadline:
        time.sleep(0.2)  # polling another process for its exit, with a deadline
    return process.terminate()


async def wait_ready(run: BridgeRun, port: int, bridge: EventBridgeProcess, what: str) -> None:
    """Poll /readyz until 200 (the port comes up with the process, a little after it starts)."""

    async def is_ready() -> bool:
        try:
            return (await ready(port))[0] == 200
        except httpx.HTTPError:
            return False

    await run.wait_for(is_ready, what, timeout_s=90, alive=[bridge])


def run_on(
    services: Services, unique: str, tmp: Path, redis: LocalRedis, **extra: object
) -> BridgeRun:
    return BridgeRun(
        services,
        unique,
        tmp,
        partitions=1,
        redis={"url": redis.url, "cluster": False, **extra},
    )


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
def test_a_bridge_and_a_gateway_refuse_a_redis_that_evicts_naming_the_setting(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    redis_of: list[LocalRedis],
    policy: str,
) -> None:
    # volatile-* too: every key EventBridge writes has a TTL, so it evicts them all the same.
    redis = private_redis(redis_of, tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", policy)
    run = run_on(real_services, unique, tmp_path, redis)
    bridge = run.bridge()
    gateway = EventBridgeProcess(
        "gateway",
        {
            **run.settings,
            "auth": {"secret": "a-secret-of-at-least-thirty-two-bytes!"},
            "gateway": {"port": free_port()},
        },
        tmp_path / "gateway.log",
    )
    asyncio.run(run.create_topic())
    for process in (bridge, gateway):
        process.start()
        assert exit_code(process) == 2, process.log.read_text()[-2000:]
        text = process.log.read_text()
        assert "eventbridge.redis.allow_eviction" in text, text[-2000:]
        assert f"maxmemory-policy {policy}" in text
        assert "Traceback" not in text


def test_with_allow_eviction_the_bridge_runs_on_an_evicting_redis_and_says_so(
    real_services: Services, unique: str, tmp_path: Path, redis_of: list[LocalRedis]
) -> None:
    redis = private_redis(redis_of, tmp_path, "--maxmemory-policy", "allkeys-lru")
    run = run_on(real_services, unique, tmp_path, redis, allow_eviction=True)
    session = str(uuid.uuid4())
    event = command_event(session, "7")

    async def scenario() -> None:
        await run.create_topic()
        await produce_raw(real_services.kafka_bootstrap, run.topic, [(session.encode(), event, ())])
        bridge = await run.run_until_drained()
        warned = [m for m in messages(bridge) if m.startswith("Redis evicts keys")]
        assert len(warned) == 1, messages(bridge)
        streams = await read_streams(redis.url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [event_id_of(event)]

    asyncio.run(scenario())


def test_a_redis_that_will_not_say_its_policy_is_warned_about_once_and_used(
    real_services: Services, unique: str, tmp_path: Path, redis_of: list[LocalRedis]
) -> None:
    redis = private_redis(redis_of, tmp_path, "--rename-command", "CONFIG", '""')
    run = run_on(real_services, unique, tmp_path, redis)
    port = free_port()
    run.settings["bridge"]["http_port"] = port
    session = str(uuid.uuid4())
    event = command_event(session, "7")
    bridge = run.bridge()

    async def scenario() -> None:
        await run.create_topic()
        bridge.start()
        await produce_raw(real_services.kafka_bootstrap, run.topic, [(session.encode(), event, ())])
        await run.wait_drained(alive=[bridge])
        await wait_ready(run, port, bridge, "/readyz to be ready")
        await wait_ready(run, port, bridge, "/readyz to stay ready")

    try:
        asyncio.run(scenario())
    finally:
        assert bridge.terminate() == 0
    assert messages(bridge).count(UNKNOWN) == 1
    assert "unknown command" in str(
        next(e for e in bridge.log_entries() if e.get("message") == UNKNOWN).get("error")
    )


def test_a_policy_changed_to_evicting_under_a_running_bridge_makes_it_not_ready(
    real_services: Services, unique: str, tmp_path: Path, redis_of: list[LocalRedis]
) -> None:
    redis = private_redis(redis_of, tmp_path)  # noeviction: redis-server's default
    run = run_on(real_services, unique, tmp_path, redis)
    port = free_port()
    run.settings["bridge"]["http_port"] = port
    bridge = run.bridge()

    def set_policy(policy: str) -> None:
        client = redis.client()
        try:
            client.config_set("maxmemory-policy", policy)
        finally:
            client.close()

    async def scenario() -> None:
        await run.create_topic()
        bridge.start()
        await wait_ready(run, port, bridge, "/readyz to be ready")
        set_policy("allkeys-lfu")
        body = await readyz_until(
            port,
            lambda s, b: s == 503 and "redis_evicts" in b["reasons"],
            "/readyz to say Redis evicts",
        )
        assert body["redis"]["evicting_policy"] == "allkeys-lfu"
        set_policy("noeviction")
        await wait_ready(run, port, bridge, "/readyz to be ready again")

    try:
        asyncio.run(scenario())
    finally:
        assert bridge.terminate() == 0


def test_on_a_cluster_every_primary_is_asked_and_the_one_that_evicts_is_named(
    tmp_path: Path,
) -> None:
    cluster = LocalRedisCluster(tmp_path / "cluster", masters=3, replicas=0)
    try:
        cluster.start()
        settings = RedisSettings(url=cluster.url, cluster=True)

        async def policy() -> EvictionPolicy:
            async with open_client(settings) as client:
                return await read_eviction_policy(client)

        assert asyncio.run(policy()) == EvictionPolicy("noeviction")
        last = cluster.nodes[-1]
        client = last.client()
        try:
            client.config_set("maxmemory-policy", "allkeys-lru")
        finally:
            client.close()
        found = asyncio.run(policy())
        assert (found.policy, found.node, found.evicts) == ("allkeys-lru", last.address, True)
    finally:
        cluster.close()
