"""Bridge health: the readiness verdict and JSON (SPEC §9), and the `eventbridge health` command."""

from __future__ import annotations

import asyncio
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

import orjson

from adapters.redis.replication import MasterReplication
from application.ports import BridgeHealth, StoreUnavailable, StreamStore
from eventbridge.settings import EventBridgeSettings

PING_TIMEOUT_S = 2.0


def health_body(health: BridgeHealth) -> dict[str, Any]:
    """The seed's health status fields: breaker state and failure rate, counters, success, lag."""
    t = health.totals
    return {
        "circuit_breaker": {
            "state": health.breaker_state,
            "failure_rate": round(health.failure_rate, 4),
        },
        "counters": {
            "consumed": t.consumed,
            "published": t.published,
            "duplicates": t.duplicates,
            "ignored": sum(t.ignored_by_reason.values()),
            "invalid": sum(t.invalid_by_reason.values()),
            "dead_lettered": t.dead_lettered,
            "dropped": sum(t.dropped_by_reason.values()),
        },
        "publish_success_rate": round(health.publish_success_rate, 4),
        "lag": {
            "total": sum(health.lag.values()),
            "partitions": {f"{p.topic}/{p.partition}": n for p, n in sorted(health.lag.items())},
        },
        "partitions": {"assigned": health.assigned, "paused": health.paused},
        "backlog": health.backlog,
        "backlog_bytes": health.backlog_bytes,
        "stalled_s": round(health.stalled_s, 1),
        "dead_letters": {"error": health.dead_letters_error},
        "seconds_without_assignment": round(health.seconds_without_assignment, 1),
    }


async def redis_reachable(store: StreamStore, timeout_s: float = PING_TIMEOUT_S) -> bool:
    try:
        await asyncio.wait_for(store.ping(), timeout_s)
    except (StoreUnavailable, TimeoutError):
        return False
    return True


async def readiness(
    health: BridgeHealth | None,
    store: StreamStore | None,
    *,
    no_assignment_grace_s: float,
    stall_s: float = 60.0,
    service: str = "eventbridge",
    evicting: str | None = None,
    replication: Replication | None = None,
) -> tuple[bool, dict[str, Any]]:
    """Ready only while the bridge can make progress: not when Redis does not answer a ping,
    the breaker is not closed (Redis failing), the dead-letter topic refuses the letters,
    records have waited `stall_s` with nothing finished, or no partition was assigned for too
    long; nor while Redis evicts keys (`evicting`: its maxmemory-policy, changed since start);
    nor, with `redis.min_replicas`, while writes are not durable (`replication`). Every reason
    that holds is listed."""
    if health is None or store is None:
        return False, {"service": service, "status": "starting", "ready": False, "reasons": []}
    reasons: list[str] = []
    reachable = await redis_reachable(store)
    if not reachable:
        reasons.append("redis_unreachable")
    if evicting is not None:
        reasons.append("redis_evicts")
    if health.breaker_state != "closed":
        reasons.append("breaker_open")  # open, or half-open with its probe in flight
    if health.dead_letters_error is not None:
        reasons.append("dead_letters_unavailable")
    if health.stalled_s > stall_s:
        reasons.append("stalled")
    if health.seconds_without_assignment > no_assignment_grace_s:
        reasons.append("no_assignment")
    redis: dict[str, Any] = {"reachable": reachable, "evicting_policy": evicting}
    if replication is not None:
        if replication.short(health):
            reasons.append("redis_replicas_short")
        redis["replication"] = replication.as_json(health)
    ready = not reasons
    body = {
        "service": service,
        "status": "ready" if ready else "not_ready",
        "ready": ready,
        "reasons": reasons,
        "redis": redis,
        **health_body(health),
    }
    return ready, body


# -- durable acknowledgement (redis.min_replicas) ----------------------------------------------
class Replication:
    """What readiness says of replication: the masters' INFO and the bridge's WAIT shortfalls."""

    def __init__(
        self, *, min_replicas: int, timeout_ms: int, masters: list[MasterReplication]
    ) -> None:
        self.min_replicas = min_replicas
        self.timeout_ms = timeout_ms
        self.masters = masters

    def short(self, health: BridgeHealth) -> bool:
        """Writes are not durable: the last one fell short and none was confirmed since, or
        a master has fewer replicas online than each write must reach (the next would)."""
        if not self.min_replicas:
            return False
        if health.replica_shortfall is not None:
            return True
        return any(
            m.replicas_online is not None and m.replicas_online < self.min_replicas
            for m in self.masters
        )

    def as_json(self, health: BridgeHealth) -> dict[str, Any]:
        return {
            "min_replicas": self.min_replicas,
            "timeout_ms": self.timeout_ms,
            "shortfalls": health.replica_shortfalls,
            "last_shortfall": health.replica_shortfall,
            "masters": [m.as_json() for m in self.masters],
        }


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def main(settings: EventBridgeSettings, out: TextIO = sys.stdout, timeout_s: float = 5.0) -> int:
    """`eventbridge health`: GET the running bridge's /readyz, print its JSON; 0 ready, 1 not."""
    b = settings.bridge
    if b.http_port == 0:
        print('{"status": "unknown", "error": "bridge.http_port is 0 (ephemeral)"}', file=out)
        return 1
    url = f"http://{_local(b.http_host)}:{b.http_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        message = {"status": "unreachable", "url": url, "error": str(exc)}
        print(orjson.dumps(message).decode(), file=out)
        return 1
    try:
        text = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace")
    print(text, file=out)
    return 0 if status == 200 else 1
