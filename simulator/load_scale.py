"""The largest fan-out this machine holds: G gateways behind nginx, N SSE connections through
it, events written at a steady rate; per-process costs for the capacity model (docs/scaling.md).

    .venv/bin/python -m simulator.load_scale --gateways 4 --connections 8000 --rate 400

Redis comes from REDIS_URL (EVENTBRIDGE__REDIS__CLUSTER=true for a Cluster) or the local
topology `--topology` / EVENTBRIDGE_TOPOLOGY names; no Kafka (the events are written through
the bridge's own store by bench/gateway_publisher.py, as bench.gateway_bench does). Clients are
raw asyncio sockets in this process (bench.gateway_clients), one user each, connected through
the balancer. Reported: connections per gateway, RSS per connection (gateways, nginx), CPU per
event (gateways, nginx, Redis), write → client latency, the load average before and after."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.gateway_bench import Target, write_events
from bench.gateway_clients import SECRET, SseClient, cpu_s, open_all, raise_fd_limit, rss_kib
from simulator.load_costs import children
from simulator.load_procs import ServiceProcess
from simulator.local_nginx import LocalBalancer
from simulator.processes import free_port, release_port
from simulator.services import TOPOLOGIES, services, topology_from_env


def _redis_cpu(url: str, cluster: bool) -> float:
    """Redis's CPU seconds (user + sys), summed over every node of a Cluster."""
    import redis  # noqa: PLC0415

    client: Any = redis.RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)
    try:
        if cluster:
            rows = list(client.info("cpu", target_nodes=redis.RedisCluster.ALL_NODES).values())
        else:
            rows = [client.info("cpu")]
        return sum(float(r["used_cpu_user"]) + float(r["used_cpu_sys"]) for r in rows)
    finally:
        client.close()


class Scale:
    """One measurement: its gateways, its balancer, its clients."""

    def __init__(self, args: argparse.Namespace, redis_url: str, cluster: bool, work: Path):
        self.args, self.redis_url, self.cluster = args, redis_url, cluster
        self.prefix = f"scale{uuid.uuid4().hex[:6]}:user:"
        self.ports = [free_port() for _ in range(args.gateways)]
        settings: dict[str, Any] = {
            "redis": {"url": redis_url, "cluster": cluster, "sse_prefix": self.prefix},
            "auth": {"secret": SECRET},
            "metrics": {"log_level": "WARNING"},
        }
        self.gateways = [
            ServiceProcess(
                "gateway",
                {
                    **settings,
                    "gateway": {"host": "127.0.0.1", "port": port, "heartbeat_s": args.heartbeat},
                },
                work / f"gateway-{i}.log",
            )
            for i, port in enumerate(self.ports)
        ]
        self.balancer = LocalBalancer(
            work / "nginx",
            [f"127.0.0.1:{p}" for p in self.ports],
            worker_connections=max(16384, 2 * args.connections + 1024),
            workers=args.nginx_workers,
        )

    def run(self) -> dict[str, Any]:
        try:
            for gateway in self.gateways:
                gateway.start()
            for gateway, port in zip(self.gateways, self.ports, strict=True):
                gateway.wait_http(f"http://127.0.0.1:{port}/livez")
            self.balancer.start()
            return asyncio.run(self._measure())
        finally:
            self.balancer.close()
            for gateway in self.gateways:
                gateway.terminate(grace_s=60)
            for port in self.ports:
                release_port(port)

    def _pids(self) -> dict[str, list[int]]:
        master = self.balancer.pid
        nginx = [master, *children(master)] if master else []
        return {"gateways": [g.pid for g in self.gateways if g.pid], "nginx": nginx}

    async def _connections(self) -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            out = []
            for port in self.ports:
                ready = await client.get(f"http://127.0.0.1:{port}/readyz")
                out.append(int(ready.json().get("connections", -1)))
            return out

    async def _measure(self) -> dict[str, Any]:
        args, pids = self.args, self._pids()
        load_before = os.getloadavg()
        rss0 = {k: sum(rss_kib(p) for p in v) for k, v in pids.items()}
        latencies: list[float] = []
        t0 = time.monotonic()
        users = [f"u{i}" for i in range(args.connections)]
        clients: list[SseClient] = await open_all(self.balancer.port, users, latencies)
        open_s = time.monotonic() - t0
        await asyncio.sleep(2.0)  # the opening's own work done
        idle0 = {k: sum(cpu_s(p) for p in v) for k, v in pids.items()}
        redis_idle0, i0 = _redis_cpu(self.redis_url, self.cluster), time.monotonic()
        await asyncio.sleep(args.settle)  # idle connections only: heartbeats, lease renewals
        idle_wall = time.monotonic() - i0
        idle = {k: sum(cpu_s(p) for p in v) - idle0[k] for k, v in pids.items()}
        redis_idle = _redis_cpu(self.redis_url, self.cluster) - redis_idle0
        per_gateway = await self._connections()
        rss1 = {k: sum(rss_kib(p) for p in v) for k, v in pids.items()}
        latencies.clear()
        cpu0 = {k: sum(cpu_s(p) for p in v) for k, v in pids.items()}
        redis0, w0 = _redis_cpu(self.redis_url, self.cluster), time.monotonic()
        sent = await self._publish()
        deadline = time.monotonic() + 30
        while len(latencies) < sent and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # the last deliveries, with a deadline
        wall = time.monotonic() - w0
        cpu = {k: sum(cpu_s(p) for p in v) - cpu0[k] for k, v in pids.items()}
        redis_cpu = _redis_cpu(self.redis_url, self.cluster) - redis0
        load_after = os.getloadavg()
        for c in clients:
            if c.transport is not None:
                c.transport.close()
        ms = sorted(x * 1000 for x in latencies)
        q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [float("nan")] * 99
        n = max(len(clients), 1)
        return {
            "gateways": args.gateways,
            "connections": len(clients),
            "per_gateway": per_gateway,
            "open_s": round(open_s, 2),
            # Idle: CPU per connection per second with no event (heartbeats, lease renewals).
            "idle_gateway_us_per_conn_s": round(idle["gateways"] / idle_wall / n * 1e6, 2),
            "idle_nginx_us_per_conn_s": round(idle["nginx"] / idle_wall / n * 1e6, 2),
            "idle_redis_us_per_conn_s": round(redis_idle / idle_wall / n * 1e6, 2),
            "gateway_kib_per_conn": round((rss1["gateways"] - rss0["gateways"]) / n, 1),
            "nginx_kib_per_conn": round((rss1["nginx"] - rss0["nginx"]) / n, 1),
            "gateway_rss_mib": round(rss1["gateways"] / 1024, 1),
            "published": sent,
            "delivered": len(ms),
            "rate": args.rate,
            "p50_ms": round(q[49], 2),
            "p99_ms": round(q[98], 2),
            "max_ms": round(ms[-1], 1) if ms else None,
            "gateway_us_per_event": round(cpu["gateways"] / max(sent, 1) * 1e6, 1),
            "nginx_us_per_event": round(cpu["nginx"] / max(sent, 1) * 1e6, 1),
            "redis_us_per_event": round(redis_cpu / max(sent, 1) * 1e6, 1),
            "gateway_cores": round(cpu["gateways"] / wall, 2),
            "nginx_cores": round(cpu["nginx"] / wall, 2),
            "redis_cores": round(redis_cpu / wall, 2),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in load_after],
            "redis": "cluster" if self.cluster else "single node",
        }

    async def _publish(self) -> int:
        target = Target(redis_url=self.redis_url, cluster=self.cluster, python=sys.executable)
        return await write_events(self.args, target, self.prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=4)
    parser.add_argument("--connections", type=int, default=4000, help="in all, one user each")
    parser.add_argument("--rate", type=float, default=400.0, help="events per second, all users")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of events")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="idle seconds measured before the events"
    )
    parser.add_argument("--heartbeat", type=float, default=15.0)
    parser.add_argument("--topology", choices=TOPOLOGIES, default=None)
    parser.add_argument(
        "--nginx-workers", type=int, default=1, help="2+ past one worker's file limit"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the logs here")
    args = parser.parse_args(argv)
    print(f"fd limit {raise_fd_limit()}")
    gc.set_threshold(50_000, 20, 100)  # this process holds every client: keep GC pauses out
    url = os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="eventbridge-scale-") as temp:
        work = args.workdir or Path(temp)
        if url:
            flag = os.environ.get("EVENTBRIDGE__REDIS__CLUSTER", "").strip().lower()
            result = Scale(args, url, flag in ("1", "true", "yes"), Path(work)).run()
        else:
            topology = args.topology or topology_from_env()
            with services(Path(work) / "services", need_kafka=False, topology=topology) as svc:
                result = Scale(args, svc.redis_url, svc.redis_cluster, Path(work)).run()
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
