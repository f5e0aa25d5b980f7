"""Gateway: Redis → SSE, its Redis clients and adapters, its service and its ASGI app."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from adapters.gateway.app import build_app
from adapters.gateway.auth import JwtAuthenticator
from adapters.redis.cluster_nodes import cluster_ping
from adapters.redis.keys import RedisKeys
from adapters.redis.leases import RedisLeases
from adapters.redis.node_connections import NodeConnector
from adapters.redis.notifications import RedisNotifications
from adapters.redis.stream_reader import RedisStreamReader
from adapters.redis.tickets import RedisTickets
from adapters.telemetry.gateway import OtelGatewayTelemetry
from adapters.telemetry.prometheus import metrics_routes
from application.gateway.policy import GatewayPolicy
from application.gateway.service import GatewayService
from domain.gateway.leases import LeasePolicy
from domain.gateway.restarts import RestartPolicy
from eventbridge.redis_eviction import checked_client
from eventbridge.settings import EventBridgeSettings
from eventbridge.wiring.core import meter_of


class GatewayResource(providers.Resource[Any]):
    """A client the gateway process opens and closes."""


class Gateway(containers.DeclarativeContainer):
    """Redis → SSE: the gateway's Redis clients and adapters, its service and its ASGI app."""

    core = providers.DependenciesContainer()
    settings = providers.Dependency(instance_of=EventBridgeSettings)

    keys = providers.Singleton(
        RedisKeys,
        settings.provided.redis.sse_prefix,
        settings.provided.redis.session_prefix,
        settings.provided.redis.ticket_prefix,
    )
    redis_client = GatewayResource(checked_client, settings=settings.provided.redis, role="gateway")
    # The subscriber makes (and closes) its own connections, one per node it subscribes on.
    node_connector = providers.Singleton(NodeConnector, settings.provided.redis)
    telemetry = providers.Singleton(
        OtelGatewayTelemetry,
        meter=providers.Factory(meter_of, core.telemetry_providers, "eventbridge.gateway"),
    )
    lease_policy = providers.Singleton(
        LeasePolicy,
        limit=settings.provided.gateway.max_connections_per_user,
        lease_s=settings.provided.gateway.lease_s,
    )
    # Readiness on a Cluster: every slot's master answers (one node's PING says nothing of
    # the others); on a single node the client's PING.
    health = providers.Singleton(cluster_ping, settings.provided.redis, node_connector)
    stream_reader = providers.Singleton(
        RedisStreamReader,
        client=redis_client,
        keys=keys,
        cluster=settings.provided.redis.cluster,
        health=health,
    )
    leases = providers.Singleton(
        RedisLeases,
        client=redis_client,
        keys=keys,
        policy=lease_policy,
        cluster=settings.provided.redis.cluster,
    )
    tickets = providers.Singleton(RedisTickets, client=redis_client, keys=keys)
    notifications = providers.Singleton(
        RedisNotifications,
        connector=node_connector,
        keys=keys,
        cluster=settings.provided.redis.cluster,
    )
    service = providers.Singleton(
        GatewayService,
        reader=stream_reader,
        notifications=notifications,
        leases=leases,
        tickets=tickets,
        telemetry=telemetry,
        clock=core.clock,
        policy=providers.Factory(
            GatewayPolicy,
            heartbeat_s=settings.provided.gateway.heartbeat_s,
            retry_ms=settings.provided.gateway.retry_ms,
            send_buffer=settings.provided.gateway.send_buffer,
            send_buffer_bytes=settings.provided.gateway.send_buffer_bytes,
            send_buffer_total_bytes=settings.provided.gateway.send_buffer_total_bytes,
            slow_client_s=settings.provided.gateway.slow_client_s,
            replay_page=settings.provided.gateway.replay_page,
            drain_s=settings.provided.gateway.drain_s,
            ticket_ttl_s=settings.provided.auth.ticket_ttl_s,
        ),
        lease_policy=lease_policy,
        restart_policy=providers.Factory(
            RestartPolicy,
            max_restarts=settings.provided.gateway.task_max_restarts,
            window_s=settings.provided.gateway.task_restart_window_s,
            backoff_s=settings.provided.gateway.task_restart_backoff_s,
        ),
    )
    app = providers.Singleton(
        build_app,
        service,
        authenticator=providers.Singleton(
            JwtAuthenticator, settings.provided.auth, clock=core.clock
        ),
        telemetry=telemetry,
        settings=settings.provided.gateway,
        auth=settings.provided.auth,
        extra_routes=providers.Factory(
            metrics_routes, core.telemetry_providers, settings.provided.metrics.public_metrics
        ),
    )
