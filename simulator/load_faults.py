"""The fault schedule of a load run: SIGKILL a Kafka broker that leads partitions, a Redis
master, a bridge or a gateway at a given second, restart it a while later, and note what it
held (partitions, users) so the report can time how long deliveries of those stopped."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis.crc import key_slot

from simulator.load_fleet import Fleet
from simulator.load_sse import Follower
from simulator.redis_cluster import LocalRedisCluster
from simulator.services import Services

log = logging.getLogger("simulator.faults")

KINDS = ("kafka", "redis", "bridge", "gateway")


@dataclass(frozen=True)
class Fault:
    """`kind` SIGKILLed `at_s` seconds after the traffic started."""

    kind: str
    at_s: float


def parse_faults(text: str) -> tuple[Fault, ...]:
    """`kafka@20,redis@45,bridge@70,gateway@95` (or `none`) → the schedule; an argparse type."""
    if text.strip().lower() in ("", "none"):
        return ()
    faults = []
    for item in text.split(","):
        kind, sep, at = item.strip().partition("@")
        if not sep or kind not in KINDS:
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected KIND@SECONDS with KIND one of {', '.join(KINDS)}"
            )
        try:
            faults.append(Fault(kind, float(at)))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{item!r}: {exc}") from exc
    return tuple(sorted(faults, key=lambda f: f.at_s))


def spread(duration_s: float, kinds: Sequence[str] = KINDS) -> tuple[Fault, ...]:
    """One fault of each kind, evenly spaced over the traffic (none in its first or last
    stretch, so each has traffic before and after it)."""
    step = duration_s / (len(kinds) + 1)
    return tuple(Fault(kind, round(step * (i + 1), 1)) for i, kind in enumerate(kinds))


def traffic_end(
    t0: float, planned_s: float, faults: Sequence[Fault], records: Sequence[FaultRecord]
) -> float:
    """When a run's traffic that started at `t0` stops: at its planned end, or later if the
    schedule ran late. A fault waits for the one before it to be healthy again (a restarted
    broker's full ISR took ~25 s in a loaded CI run), and one that begins after the traffic
    ended has nothing to resume. So the traffic goes on after the last fault really began for
    as long as the plan left after it."""
    if not faults:
        return t0 + planned_s
    tail = max(planned_s - faults[-1].at_s, 0.0)
    began = max((r.at for r in records), default=t0)
    return max(t0 + planned_s, began + tail)


def needs(faults: Sequence[Fault], svc: Services) -> str | None:
    """Why this schedule cannot run on `svc` (None: it can)."""
    kinds = {f.kind for f in faults}
    if "kafka" in kinds and svc.kafka_cluster is None:
        return "a Kafka fault needs the local Kafka cluster (--topology cluster, no KAFKA_...)"
    if "redis" in kinds and svc.redis_local_cluster is None:
        return "a Redis fault needs the local Redis Cluster (--topology cluster, no REDIS_URL)"
    return None


@dataclass
class FaultRecord:
    """One injected fault: what was killed, when (wall clock), when it was started again and
    served again, and what it held: the partitions (Kafka, bridge) or users (Redis, gateway)
    whose deliveries it could stop."""

    kind: str
    target: str
    at: float
    restarted_at: float | None = None
    back_at: float | None = None
    partitions: frozenset[int] | None = None
    users: frozenset[str] | None = None
    notes: dict[str, float] = field(default_factory=dict)  # e.g. the failover's own time


class Injector:
    """Runs a schedule against a load run's services and fleet; `down_s` is how long each
    killed process stays dead before it is started again."""

    def __init__(
        self,
        svc: Services,
        fleet: Fleet,
        *,
        topic: str,
        stream_key: Callable[[str], str],
        followers: Sequence[Follower],
        down_s: float,
        marks: list[tuple[float, str]],
    ) -> None:
        self.svc, self.fleet, self.topic = svc, fleet, topic
        self.stream_key, self.followers = stream_key, followers
        self.down_s, self.marks = down_s, marks
        self.records: list[FaultRecord] = []
        self.errors: list[str] = []  # faults that could not be injected or brought back
        self._count: Counter[str] = Counter()

    async def run(self, faults: Sequence[Fault], t0: float) -> None:
        """Each fault at `t0 + at_s` (wall clock); one at a time, each back before the next."""
        for fault in faults:
            delay = t0 + fault.at_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the schedule itself
            inject = getattr(self, f"_{fault.kind}")
            try:
                record: FaultRecord = await inject(self._count[fault.kind])
            except Exception as exc:  # reported: the run goes on, and fails (load.clean)
                log.exception("fault %s@%g could not be injected", fault.kind, fault.at_s)
                self.errors.append(f"{fault.kind}@{fault.at_s:g}: {exc!r}"[:500])
                continue
            finally:
                self._count[fault.kind] += 1
            self.records.append(record)

    def _mark(self, label: str) -> float:
        now = time.time()
        self.marks.append((now, label))
        return now

    async def _down(self, since: float) -> float:
        await asyncio.sleep(max(self.down_s - (time.time() - since), 0))  # kept dead a while
        return time.time()

    async def _kafka(self, _: int) -> FaultRecord:
        cluster = self.svc.kafka_cluster
        assert cluster is not None
        states = await asyncio.to_thread(cluster.partitions, [self.topic])
        leaders = Counter(p.leader for p in states)
        node_id = leaders.most_common(1)[0][0]
        led = frozenset(p.partition for p in states if p.leader == node_id)
        node = cluster.node(node_id)
        record = FaultRecord("kafka", f"broker {node_id}", 0.0, partitions=led)
        record.at = self._mark(f"SIGKILL Kafka broker {node_id} (leads {len(led)})")
        cluster.kill(node)
        new = await asyncio.to_thread(cluster.wait_new_leader, self.topic, min(led), node, 60.0)
        record.notes["new_leader_s"] = time.time() - record.at
        record.notes["new_leader"] = float(new.node_id)
        record.restarted_at = await self._down(record.at)
        self._mark(f"broker {node_id} restarted")
        await asyncio.to_thread(cluster.restart, node)
        await asyncio.to_thread(cluster.wait_in_sync, [self.topic], 90.0)
        record.back_at = time.time()
        return record

    async def _redis(self, n: int) -> FaultRecord:
        cluster = self.svc.redis_local_cluster
        assert cluster is not None
        users = [f.user for f in self.followers]
        slots = {u: key_slot(self.stream_key(u).encode()) for u in users}
        master = await asyncio.to_thread(cluster.master_of, slot=slots[users[n % len(users)]])
        owned = await asyncio.to_thread(_slots_of, cluster, master.port)
        held = frozenset(u for u in users if slots[u] in owned)
        record = FaultRecord("redis", f"master :{master.port}", 0.0, users=held)
        record.at = self._mark(f"SIGKILL Redis master :{master.port} ({len(held)} users)")
        cluster.kill(master)
        await asyncio.to_thread(cluster.wait_serving, 60.0)
        record.notes["failover_s"] = time.time() - record.at
        record.restarted_at = await self._down(record.at)
        self._mark(f"Redis :{master.port} restarted")
        await asyncio.to_thread(cluster.restart, master)
        await asyncio.to_thread(cluster.wait_healthy, 60.0)
        record.back_at = time.time()
        return record

    async def _bridge(self, n: int) -> FaultRecord:
        i = n % len(self.fleet.bridges)
        bridge = self.fleet.bridges[i]
        joined = bridge.last_logged("kafka group joined") or {}
        held = frozenset(int(p) for p in joined.get("partitions") or ())
        record = FaultRecord("bridge", f"bridge {i}", 0.0, partitions=held)
        record.at = self._mark(f"SIGKILL bridge {i} ({len(held)} partitions)")
        bridge.kill()
        record.restarted_at = await self._down(record.at)
        self._mark(f"bridge {i} restarted")
        # Spawned here, on the loop's (main) thread; only the wait for its log is a thread's.
        before = bridge.count_logged("bridge started")
        bridge.start()
        await asyncio.to_thread(bridge.wait_logged, "bridge started", 60.0, after=before)
        record.back_at = time.time()
        return record

    async def _gateway(self, n: int) -> FaultRecord:
        i = n % len(self.fleet.gateways)
        address = self.fleet.addresses[i]
        alone = len(self.fleet.gateways) == 1
        held = frozenset(f.user for f in self.followers if alone or f.upstream == address)
        record = FaultRecord("gateway", f"gateway {i}", 0.0, users=held)
        record.at = self._mark(f"SIGKILL gateway {i} ({len(held)} browsers)")
        self.fleet.gateways[i].kill()
        record.restarted_at = await self._down(record.at)
        self._mark(f"gateway {i} restarted")
        self.fleet.gateways[i].start()
        url = f"{self.fleet.gateway_url(i)}/livez"
        await asyncio.to_thread(self.fleet.gateways[i].wait_http, url, 60.0)
        record.back_at = time.time()
        return record


def _slots_of(cluster: LocalRedisCluster, port: int) -> set[int]:
    """The slots the master on `port` serves, by one CLUSTER SLOTS."""
    node = next(n for n in cluster.nodes if n.running)
    client = node.client()
    try:
        ranges = client.execute_command("CLUSTER", "SLOTS")
    finally:
        client.close()
    out: set[int] = set()
    for start, end, master, *_ in ranges:
        if int(master[1]) == port:
            out.update(range(int(start), int(end) + 1))
    return out
