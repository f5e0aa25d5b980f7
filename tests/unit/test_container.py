"""The one composition root: every provider is used, `run` shares Core, resources close once."""

from __future__ import annotations

import asyncio

import pytest
from dependency_injector import providers
from redis.asyncio import BlockingConnectionPool

from eventbridge.container import Application
from eventbridge.runtime import resolved
from eventbridge.settings import EventBridgeSettings
from eventbridge.wiring.core import service_name
from eventbridge.wiring.gateway import GatewayResource

pytestmark = pytest.mark.unit

SETTINGS = EventBridgeSettings(
    auth={"secret": "a-secret-of-at-least-thirty-two-bytes!"},  # type: ignore[arg-type]
    redis={"url": "redis://127.0.0.1:1/0"},  # type: ignore[arg-type]
)
# What the runtimes resolve (eventbridge.runtime, eventbridge.gateway_runtime).
ROOTS = {"bridge": ("service", "telemetry", "stream_store"), "gateway": ("app", "telemetry")}


@pytest.mark.parametrize("process", sorted(ROOTS))
def test_every_provider_of_a_process_is_reached_from_what_its_runtime_resolves(
    process: str,
) -> None:
    container = getattr(Application(settings=SETTINGS), process)()
    reached = {id(p) for p in providers.traverse(*(container.providers[r] for r in ROOTS[process]))}
    reached |= {id(container.providers[r]) for r in ROOTS[process]}
    unused = [
        name
        for name, provider in container.providers.items()
        if id(provider) not in reached and not isinstance(provider, providers.DependenciesContainer)
    ]
    assert unused == []


def test_run_shares_core_between_the_processes_and_keeps_their_redis_clients_apart() -> None:
    app = Application(settings=SETTINGS, process="run")

    async def scenario() -> None:
        bridge_redis = await resolved(app.bridge.redis_client())
        gateway_redis = await resolved(app.gateway.redis_client())
        assert bridge_redis is not gateway_redis
        assert isinstance(gateway_redis.connection_pool, BlockingConnectionPool)
        assert not isinstance(bridge_redis.connection_pool, BlockingConnectionPool)
        core = await resolved(app.core.telemetry_providers())
        gateway_telemetry = app.gateway().core.telemetry_providers
        assert await resolved(gateway_telemetry()) is core
        assert await resolved(app.bridge().core.telemetry_providers()) is core
        assert app.bridge().core.clock() is app.gateway().core.clock()
        # The gateway's runtime closes its own clients only; the bridge and Core stay open.
        await resolved(app.shutdown_resources(resource_type=GatewayResource))
        assert not app.gateway.redis_client.initialized
        assert app.bridge.redis_client.initialized
        assert app.core.telemetry_providers.initialized
        await resolved(app.shutdown_resources())
        assert not app.bridge.redis_client.initialized
        assert not app.core.telemetry_providers.initialized

    asyncio.run(scenario())


def test_a_gateway_on_its_own_reports_as_its_own_service() -> None:
    assert service_name(SETTINGS.metrics, "gateway") == "eventbridge-gateway"
    assert service_name(SETTINGS.metrics, "bridge") == "eventbridge"
    assert service_name(SETTINGS.metrics, "run") == "eventbridge"
