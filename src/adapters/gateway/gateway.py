"""The gateway's core: its collaborators, opening streams, lease renewal and graceful drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from adapters.gateway.auth import JwtAuthenticator, Principal, RedisTickets
from adapters.gateway.connection import SseConnection
from adapters.gateway.hub import NotificationHub
from adapters.gateway.limits import ConnectionLeases
from adapters.gateway.settings import AuthSettings, GatewaySettings
from adapters.gateway.streams import UserStreams
from adapters.gateway.supervisor import RestartPolicy, Supervisor
from adapters.gateway.telemetry import GatewayTelemetry
from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from adapters.redis.settings import RedisSettings
from application.ports import StoreUnavailable

log = logging.getLogger("eventbridge.gateway")


class Gateway:
    """Everything a request needs; `run()` keeps the subscription, the tick and the leases alive
    (supervised: a loop that dies is restarted, and the gateway is not ready meanwhile)."""

    def __init__(
        self,
        *,
        client: Any,
        pubsub_client: Any,
        settings: GatewaySettings,
        auth: AuthSettings,
        redis: RedisSettings,
        telemetry: GatewayTelemetry,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.auth_settings = auth
        self.telemetry = telemetry
        self.wall = wall
        self._client = client
        keys = RedisKeys(redis.sse_prefix, redis.session_prefix, redis.ticket_prefix)
        self.auth = JwtAuthenticator(auth, wall=wall)
        self.tickets = RedisTickets(client=client, keys=keys, ttl_s=auth.ticket_ttl_s, wall=wall)
        self.streams = UserStreams(client=client, keys=keys, page=settings.replay_page)
        self.leases = ConnectionLeases(
            client=client,
            keys=keys,
            limit=settings.max_connections_per_user,
            lease_s=settings.lease_s,
            wall=wall,
        )
        self.hub: NotificationHub[SseConnection] = NotificationHub(client=pubsub_client, keys=keys)
        self.supervisor = Supervisor(
            restarts=telemetry,
            policy=RestartPolicy(
                max_restarts=settings.task_max_restarts,
                window_s=settings.task_restart_window_s,
                backoff_s=settings.task_restart_backoff_s,
            ),
        )
        self.draining = False
        self.read_errors = 0

    async def open(
        self,
        principal: Principal,
        *,
        last_event_id: str | None,
        history: int,
        session: str | None,
        ticket: str | None = None,
    ) -> SseConnection:
        """A leased, registered connection positioned per resume/history; may raise
        LeaseRefused, StoreUnavailable or (a ticket redeemed meanwhile) AuthError, and then
        nothing is left behind: the lease is given back and the ticket is not consumed.

        A `ticket` (already peeked to learn `principal`) is redeemed last, once the lease is
        held and the start is read, so only a stream that opens consumes it.
        """
        conn_id = secrets.token_hex(8)
        await self.leases.acquire(principal.user_id, conn_id)
        conn = SseConnection(
            self,
            user_id=principal.user_id,
            conn_id=conn_id,
            expires_at=principal.expires_at,
            session=session.encode() if session is not None else None,
        )
        self.hub.register(conn)
        try:
            if last_event_id is not None:
                start = await self.streams.resume(
                    principal.user_id, last_event_id, self.settings.replay_page
                )
            else:
                start = await self.streams.fresh(
                    principal.user_id, history, session.encode() if session else None
                )
            if ticket is not None:
                await self.tickets.redeem(ticket)
        except BaseException:
            self.hub.unregister(conn)
            with contextlib.suppress(StoreUnavailable):
                await self.leases.release(principal.user_id, conn_id)
            raise
        conn.begin(start)
        return conn

    async def run(self) -> None:
        """The subscription, the heartbeat tick and the lease renewal, until cancelled; raises
        TaskFailed when one of them keeps dying (see `adapters.gateway.supervisor`)."""
        await self.supervisor.run(
            {"subscription": self.hub.run, "tick": self._tick, "lease_renewal": self._renew_leases}
        )

    async def _tick(self, chunk: int = 100) -> None:
        """Every heartbeat: a comment to each connection, and a re-read for each connection
        whose stream holds entries past its cursor (a lost notification costs one tick)."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)  # the heartbeat period itself
            conns = list(self.hub.listeners())
            for start in range(0, len(conns), chunk):
                part = conns[start : start + chunk]
                for conn in part:
                    conn.beat()
                try:
                    newest = await self.streams.last_ids({c.user_id for c in part})
                except StoreUnavailable:
                    self.read_errors += 1
                    continue
                for conn in part:
                    if conn.behind(newest.get(conn.user_id)):
                        conn.wake()
                # Small chunks and a yield between them: live deliveries interleave with a
                # tick over thousands of connections instead of waiting behind all of it.
                await asyncio.sleep(0)

    async def _renew_leases(self) -> None:
        # Renew well inside the lease, so a live connection's lease never lapses.
        every = min(self.settings.heartbeat_s, self.settings.lease_s / 3)
        while True:
            await asyncio.sleep(every)  # a periodic duty, not waiting for a result
            leases = [(c.user_id, c.conn_id) for c in self.hub.listeners()]
            try:
                await self.leases.renew(leases)
            except StoreUnavailable as exc:
                log.warning("lease renewal failed", extra={"error": str(exc)})

    async def drain(self) -> None:
        """Refuse new streams and end the open ones (clients reconnect elsewhere)."""
        self.draining = True
        open_now = len(self.hub)
        log.info("gateway draining", extra={"connections": open_now})
        leases = []
        for conn in self.hub.listeners():
            conn.close("shutdown")
            leases.append((conn.user_id, conn.conn_id))
        try:
            await self.leases.release_all(leases)
        except StoreUnavailable as exc:
            log.warning("could not release leases; they expire", extra={"error": str(exc)})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.drain_s):
                await self.hub.idle.wait()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        redis_ok = True
        try:
            with store_errors():
                async with asyncio.timeout(1.0):
                    await self._client.ping()
        except (StoreUnavailable, TimeoutError):
            redis_ok = False
        subscribed = self.hub.subscribed.is_set()
        tasks = self.supervisor.running
        ok = redis_ok and subscribed and self.supervisor.healthy and not self.draining
        body: dict[str, Any] = {
            "status": "ready" if ok else "unavailable",
            "redis": "up" if redis_ok else "down",
            "subscription": "up" if subscribed else "down",
            "tasks": {name: "up" if up else "down" for name, up in tasks.items()},
            "draining": self.draining,
            "connections": len(self.hub),
        }
        snapshot = getattr(self.telemetry, "snapshot", None)
        if callable(snapshot):
            body["telemetry"] = snapshot()
        return ok, body

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive unless a background loop gave up (the process is then on its way out)."""
        failed = self.supervisor.failed
        if failed is None:
            return True, {"status": "alive"}
        return False, {"status": "failed", "task": failed.task, "error": str(failed)}
