"""GatewayService: opens connections, keeps them live (tick, renewal), drains them; health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from application.gateway import start as starts
from application.gateway.connection import Connection, ConnectionDeps
from application.gateway.counts import GatewayCounts, Sampler
from application.gateway.hub import ConnectionHub
from application.gateway.outbox import Bounds
from application.gateway.policy import GatewayPolicy
from application.gateway.ports import (
    GatewayTelemetry,
    Leases,
    Notifications,
    StreamReader,
    Tickets,
)
from application.gateway.readiness import Readiness
from application.gateway.supervisor import Supervisor, TaskFailed
from application.gateway.tickets import TicketDesk
from application.ports import Clock, StoreUnavailable
from domain.gateway.credentials import Principal, stream_deadline
from domain.gateway.leases import LeasePolicy
from domain.gateway.restarts import RestartPolicy

log = logging.getLogger("eventbridge.gateway")


class GatewayService:
    """Everything a request needs; `run()` keeps the subscription, the heartbeat tick and the
    lease renewal alive (supervised: a loop that dies is restarted, and the gateway is not
    ready meanwhile)."""

    def __init__(
        self,
        *,
        reader: StreamReader,
        notifications: Notifications,
        leases: Leases,
        tickets: Tickets,
        telemetry: GatewayTelemetry,
        clock: Clock,
        policy: GatewayPolicy,
        lease_policy: LeasePolicy,
        restart_policy: RestartPolicy,
    ) -> None:
        self._reader = reader
        self._notifications = notifications
        self._leases = leases
        self._clock = clock
        self._policy = policy
        self._lease_policy = lease_policy
        self.counts = GatewayCounts()
        telemetry.watch(self.counts)
        self.hub: ConnectionHub[Connection] = ConnectionHub(
            follow=notifications.follow, unfollow=notifications.unfollow, counts=self.counts
        )
        self._deps = ConnectionDeps(
            reader=reader,
            leases=leases,
            telemetry=telemetry,
            counts=self.counts,
            sampler=Sampler(),
            clock=clock,
            unregister=self.hub.unregister,
            retry_ms=policy.retry_ms,
            bounds=Bounds(
                messages=policy.send_buffer,
                bytes=policy.send_buffer_bytes,
                process_bytes=policy.send_buffer_total_bytes,
                slow_client_s=policy.slow_client_s,
                counts=self.counts,
            ),
            page=policy.replay_page,
        )
        self.tickets = TicketDesk(
            tickets=tickets, leases=leases, clock=clock, ttl_max_s=policy.ticket_ttl_s
        )
        self.supervisor = Supervisor(restarts=telemetry, policy=restart_policy, clock=clock)
        self.draining = False

    async def open(
        self,
        principal: Principal,
        *,
        last_event_id: str | None,
        history: int,
        session: str | None,
        ticket: str | None = None,
    ) -> Connection:
        """A leased, registered connection positioned per resume/history; may raise
        LeaseRefused, StoreUnavailable or (a ticket redeemed meanwhile) AuthError, and then
        nothing is left behind: the lease is given back and the ticket is not consumed.

        A `ticket` (already peeked to learn `principal`) is redeemed last, once the lease is
        held and the start is read, so only a stream that opens consumes it.
        """
        user, clock = principal.user_id, self._clock
        conn_id = secrets.token_hex(8)
        await self._leases.acquire(user, conn_id, now=clock.unix())
        conn = Connection(
            self._deps,
            user_id=user,
            conn_id=conn_id,
            deadline=stream_deadline(principal.expires_at, clock.unix(), clock.monotonic()),
            session=session.encode() if session is not None else None,
        )
        self.hub.register(conn)
        page = self._policy.replay_page
        try:
            await self._subscribed(user)
            if last_event_id is not None:
                start = await starts.resume(self._reader, user, last_event_id, page)
            else:
                wanted = session.encode() if session else None
                start = await starts.fresh(self._reader, user, history, wanted, page)
            if ticket is not None:
                await self.tickets.redeem(ticket)
        except BaseException:
            self.hub.unregister(conn)
            with contextlib.suppress(StoreUnavailable):
                await self._leases.release(user, conn_id)
            raise
        conn.begin(start)
        return conn

    async def _subscribed(self, user: str) -> None:
        """Read a new connection's start only once its user's notifications flow, so none
        published after that read is missed. Bounded: past the wait (or while the subscriber is
        down) the confirmation, when it comes, makes the connection read again."""
        if not self._notifications.subscribed:
            return
        clock = self._clock
        with contextlib.suppress(TimeoutError):
            async with clock.deadline(clock.monotonic() + self._policy.subscribe_wait_s):
                await self._notifications.confirmed(user)

    async def run(self) -> None:
        """The subscription, the heartbeat tick and the lease renewal, until cancelled; raises
        TaskFailed when one of them keeps dying."""
        await self.supervisor.run(
            {
                "subscription": self._subscription,
                "tick": self._ticking,
                "lease_renewal": self._renewing,
            }
        )

    async def _subscription(self) -> None:
        await self._notifications.run(notify=self.hub.notify, resubscribed=self.hub.resubscribed)

    async def _ticking(self) -> None:
        while True:
            await self.tick(pace_s=self._policy.heartbeat_s)

    async def _renewing(self) -> None:
        every = self._lease_policy.renew_every_s(self._policy.heartbeat_s)
        while True:
            await self.renew(pace_s=every)

    async def tick(self, chunk: int = 100, *, pace_s: float = 0.0) -> None:
        """One heartbeat: a comment to each connection, and a re-read for each connection
        whose stream holds entries past its cursor (a lost notification costs one tick).
        `pace_s` (the background loop): the chunks spread evenly over that many seconds, so
        10,000 connections are not thousands of heartbeats and reads at once (a latency spike
        for every event in flight); without it, one pass at once."""
        conns = list(self.hub.listeners())
        paced = _Pace(self._clock, pace_s, -(-len(conns) // chunk))
        for at in range(0, len(conns), chunk):
            # Small chunks and a wait before each: live deliveries interleave with a tick over
            # thousands of connections instead of waiting behind all of it.
            await paced.next()
            part = conns[at : at + chunk]
            for conn in part:
                conn.beat()
            try:
                newest = await self._reader.last_ids({c.user_id for c in part})
            except StoreUnavailable:
                newest = {}
            for conn in part:
                if conn.behind(newest.get(conn.user_id)):
                    conn.wake()
        await paced.rest()

    async def renew(self, chunk: int = 100, *, pace_s: float = 0.0) -> None:
        """Extend the lease of every connection of this process (`pace_s`: spread over that
        many seconds, as `tick`)."""
        leases = [(c.user_id, c.conn_id) for c in self.hub.listeners()]
        paced = _Pace(self._clock, pace_s, -(-len(leases) // chunk))
        failed: list[StoreUnavailable] = []
        for at in range(0, max(len(leases), 1), chunk):  # the port is asked even for none
            await paced.next()
            try:
                await self._leases.renew(leases[at : at + chunk], now=self._clock.unix())
            except StoreUnavailable as exc:
                failed.append(exc)
        if failed:  # one line per pass, not per chunk
            extra = {"error": str(failed[-1]), "chunks_failed": len(failed)}
            log.warning("lease renewal failed", extra=extra)
        await paced.rest()

    async def drain(self) -> None:
        """Refuse new streams and end the open ones (clients reconnect elsewhere)."""
        self.draining = True
        log.info("gateway draining", extra={"connections": len(self.hub)})
        leases = []
        for conn in self.hub.listeners():
            conn.close("shutdown")
            leases.append((conn.user_id, conn.conn_id))
        try:
            await self._leases.release_all(leases)
        except StoreUnavailable as exc:
            log.warning("could not release leases; they expire", extra={"error": str(exc)})
        clock = self._clock
        with contextlib.suppress(TimeoutError):
            async with clock.deadline(clock.monotonic() + self._policy.drain_s):
                await self.hub.idle.wait()

    async def readiness(self) -> Readiness:
        clock, error = self._clock, None
        try:
            async with clock.deadline(clock.monotonic() + 1.0):
                await self._reader.ping()
        except StoreUnavailable as exc:
            error = str(exc)
        except TimeoutError:
            error = "Redis did not answer within 1 s"
        return Readiness(
            redis=error is None,
            redis_error=error,
            subscribed=self._notifications.subscribed,
            tasks=self.supervisor.running,
            draining=self.draining,
            connections=len(self.hub),
        )

    def liveness(self) -> TaskFailed | None:
        """None while alive; else the loop that was given up (the process is on its way out)."""
        return self.supervisor.failed


class _Pace:
    """`steps` steps spread evenly over `total_s` from now, step k due at k/steps of it, so the
    last one ends the period (0: no wait, only a yield to the loop before each step);
    `rest()` waits out what is left of `total_s` (all of it when there was no step)."""

    def __init__(self, clock: Clock, total_s: float, steps: int) -> None:
        self._clock, self._total_s, self._steps = clock, total_s, max(steps, 1)
        self._start, self._done = clock.monotonic(), 0

    async def next(self) -> None:
        self._done += 1
        if self._total_s <= 0:
            await asyncio.sleep(0)
            return
        due = self._start + self._total_s * self._done / self._steps
        # A periodic duty's own pacing, not a wait for a result.
        await self._clock.sleep(max(0.0, due - self._clock.monotonic()))

    async def rest(self) -> None:
        if self._total_s > 0:
            left = self._start + self._total_s - self._clock.monotonic()
            await self._clock.sleep(max(0.0, left))
