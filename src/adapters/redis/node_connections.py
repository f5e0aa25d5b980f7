"""Plain connections to one Redis node each, for the gateway's sharded pub/sub subscriber."""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool

from adapters.redis.settings import RedisSettings

Address = tuple[str, int]


class NodeConnector:
    """Makes unconnected RESP2 connections to the URL's node, or to any node of its Cluster,
    with the URL's credentials, database and TLS. RESP2: a subscribed connection then answers
    in plain arrays; there is no client-side health check (the subscriber pings by itself) and
    no retry (the subscriber reconnects by itself, to wherever the slot now lives)."""

    def __init__(self, settings: RedisSettings, *, client_name: str | None = None) -> None:
        options: dict[str, Any] = {
            "protocol": 2,
            "socket_timeout": settings.socket_timeout_s,
            "socket_connect_timeout": settings.connect_timeout_s,
            "health_check_interval": 0,
        }
        if client_name is not None:
            options["client_name"] = client_name
        pool = ConnectionPool.from_url(settings.url, **options)
        self._class = pool.connection_class
        self._options = dict(pool.connection_kwargs)
        self.seed: Address = (str(self._options.get("host", "")), int(self._options.get("port", 0)))

    def __call__(self, address: Address | None = None) -> AbstractConnection:
        options = self._options
        if address is not None:
            options = {**options, "host": address[0], "port": address[1]}
        connection: AbstractConnection = self._class(**options)
        return connection
