"""The EventBridge processes of a load run: bridges, gateways, and nginx in front of 2+ gateways.

One bridge and one gateway (`make load`) run as before, the browsers talking to the gateway
directly. With several bridges each is its own static member of the one consumer group
(`kafka.instance_ordinal` 0, 1, ...: its own `group.instance.id`); with several gateways each
listens on its own reserved port and the browsers connect through a local nginx
(`simulator.local_nginx`), as they would through a production balancer."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.load_procs import ServiceProcess
from simulator.local_nginx import LocalBalancer
from simulator.processes import free_port, release_port
from simulator.services import Services

BRIDGE_STARTED = "bridge started"


def _name(kind: str, i: int, count: int) -> str:
    return kind if count == 1 else f"{kind}-{i}"


class Fleet:
    """`bridges` bridge processes and `gateways` gateway processes over `settings` (the
    sections of `EVENTBRIDGE__...`), logging into `workdir`; nginx when `gateways` > 1."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        workdir: Path,
        *,
        bridges: int = 1,
        gateways: int = 1,
        python: str | None = None,
        ports: list[int] | None = None,
    ) -> None:
        if bridges < 1 or gateways < 1:
            raise ValueError("a load run needs at least one bridge and one gateway")
        self.ports = ports or [free_port() for _ in range(gateways)]
        self._own_ports = ports is None
        self.bridges = [
            ServiceProcess(
                "bridge",
                _bridge_settings(settings, i, bridges),
                workdir / f"{_name('bridge', i, bridges)}.log",
                python=python,
            )
            for i in range(bridges)
        ]
        self.gateways = [
            ServiceProcess(
                "gateway",
                _gateway_settings(settings, port),
                workdir / f"{_name('gateway', i, gateways)}.log",
                python=python,
            )
            for i, port in enumerate(self.ports)
        ]
        self.balancer = (
            LocalBalancer(workdir / "nginx", self.addresses, fail_timeout_s=1.0)
            if gateways > 1
            else None
        )

    @property
    def addresses(self) -> list[str]:
        """Each gateway as the balancer names it ("127.0.0.1:PORT")."""
        return [f"127.0.0.1:{port}" for port in self.ports]

    @property
    def base_url(self) -> str:
        """Where browsers connect: the balancer, or the one gateway."""
        if self.balancer is not None:
            return self.balancer.url
        return f"http://127.0.0.1:{self.ports[0]}"

    def gateway_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self) -> None:
        """Every process, then each one serving (bridges logged their start, gateways answer
        /livez), then the balancer. On a failure, `stop()` ends whatever did start."""
        for proc in [*self.bridges, *self.gateways]:
            proc.start()
        for bridge in self.bridges:
            bridge.wait_logged(BRIDGE_STARTED)
        for i, gateway in enumerate(self.gateways):
            gateway.wait_http(f"{self.gateway_url(i)}/livez")
        if self.balancer is not None:
            self.balancer.start()

    def restart_bridge(self, i: int, timeout_s: float = 60.0) -> None:
        """Start bridge `i` again (same ordinal: same instance id) and wait for its start."""
        bridge = self.bridges[i]
        before = bridge.count_logged(BRIDGE_STARTED)
        bridge.start()
        bridge.wait_logged(BRIDGE_STARTED, timeout_s, after=before)

    def restart_gateway(self, i: int, timeout_s: float = 60.0) -> None:
        """Start gateway `i` again on its port and wait until it answers /livez."""
        self.gateways[i].start()
        self.gateways[i].wait_http(f"{self.gateway_url(i)}/livez", timeout_s)

    def stop(self, grace_s: float = 20.0) -> None:
        """The balancer first (no new connection reaches a stopping gateway), then the
        gateways (their drain), then the bridges (theirs)."""
        if self.balancer is not None:
            self.balancer.close()
        for proc in [*self.gateways, *self.bridges]:
            proc.terminate(grace_s=grace_s)
        if self._own_ports:
            for port in self.ports:
                release_port(port)


def process_settings(svc: Services, unique: str, *, port: int, secret: str) -> dict[str, Any]:
    """Settings of the bridge and gateway processes (`EVENTBRIDGE__...` env variables)."""
    return {
        "kafka": {
            "bootstrap_servers": svc.kafka_bootstrap,
            "topic": f"load-{unique}",
            "group_id": f"eventbridge-load-{unique}",
        },
        "redis": {
            "url": svc.redis_url,
            "cluster": svc.redis_cluster,
            "sse_prefix": f"load{unique}:user:",
            "session_prefix": f"load{unique}:session:",
            "ticket_prefix": f"load{unique}:ticket:",
        },
        "bridge": {"http_port": 0},
        "gateway": {"host": "127.0.0.1", "port": port},
        "auth": {"secret": secret},
    }


@contextmanager
def running(*procs: ServiceProcess) -> Iterator[None]:
    """Start each process; stop them all (SIGTERM, then SIGKILL) whatever happens."""
    try:
        for proc in procs:
            proc.start()
        yield
    finally:
        for proc in reversed(procs):
            proc.terminate(grace_s=20)


def _bridge_settings(settings: Mapping[str, Any], i: int, count: int) -> dict[str, Any]:
    out = copy.deepcopy(dict(settings))
    if count > 1:  # each replica its own group.instance.id (SPEC §14, static membership)
        out["kafka"] = {**out.get("kafka", {}), "instance_ordinal": i}
    return out


def _gateway_settings(settings: Mapping[str, Any], port: int) -> dict[str, Any]:
    out = copy.deepcopy(dict(settings))
    out["gateway"] = {**out.get("gateway", {}), "host": "127.0.0.1", "port": port}
    return out
