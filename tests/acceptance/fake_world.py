"""The default world: BridgeService over the shared fakes, with a fake clock."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from adapters.telemetry.memory import InMemoryTelemetry
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy, OpenPolicy
from domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from domain.model import Partition, Record
from simulator.genesis_model import SimRecord
from tests.acceptance.world import Delivered, Letter, World, data_of
from tests.bridge_over_fakes import bridge_over_fakes

PARTITIONS = tuple(Partition("genesis.domain.events", p) for p in range(3))
MAX_STEPS = 5000


@dataclass
class FakeWorld(World):
    """One bridge (rebuilt on restart) over in-memory Kafka, Redis and dead-letter topic."""

    clock: FakeClock = field(default_factory=FakeClock)
    store: FakeStreamStore = field(default_factory=FakeStreamStore)
    dlq: FakeDeadLetters = field(default_factory=FakeDeadLetters)
    telemetry: InMemoryTelemetry = field(default_factory=InMemoryTelemetry)
    breaker_policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    policy: BridgePolicy = field(default_factory=lambda: BridgePolicy(max_batch=50))
    source: FakeEventSource | None = None
    _bridge: BridgeService | None = None
    origin: dict[tuple[Partition, int], SimRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.source = FakeEventSource(self.clock, PARTITIONS)

    @property
    def src(self) -> FakeEventSource:
        assert self.source is not None
        return self.source

    @property
    def bridge(self) -> BridgeService:
        if self._bridge is None:
            self._bridge = self._new_bridge()
        return self._bridge

    def _new_bridge(self) -> BridgeService:
        return bridge_over_fakes(
            self.clock,
            self.src,
            store=self.store,
            dead_letters=self.dlq,
            telemetry=self.telemetry,
            breaker=CircuitBreaker(self.breaker_policy),
            policy=self.policy,
        )

    def configure(
        self, *, policy: BridgePolicy | None = None, breaker: BreakerPolicy | None = None
    ) -> None:
        """New settings take effect as a restart would: only once everything is committed."""
        self.policy = policy or self.policy
        self.breaker_policy = breaker or self.breaker_policy
        if self._bridge is not None:
            assert self.all_committed(), "reconfigure only a bridge that has finished its work"
            self._bridge = self._new_bridge()

    def now(self) -> datetime:
        return self.clock.wall()

    def send(self, record: SimRecord) -> None:
        # Kafka keeps one session on one partition; any stable hash of the key does too.
        partition = PARTITIONS[zlib.crc32(record.key) % len(PARTITIONS)]
        kept = self.src.append(partition, record.key, record.value, record.headers)
        self.origin[(partition, kept.offset)] = record

    # The bridge at work.
    def step(self) -> None:
        async def turn() -> None:
            await self.bridge.step()
            await self.bridge.settle()  # the batch's write too, so a step is a whole turn

        self.runner.run(turn())

    def process(self) -> None:
        """Step until all is committed, or the bridge can only wait (breaker open, DLQ down)."""
        for _ in range(MAX_STEPS):
            self.step()
            if self.all_committed() or self._waiting():
                return
        raise AssertionError("the bridge neither finished nor settled into waiting")

    def _waiting(self) -> bool:
        bridge = self.bridge
        if not self.dlq.available and bridge.backlog:
            return True
        if bridge.breaker.state is BreakerState.CLOSED:
            return False
        # Open or half-open: under pause it holds its batch; under drop it has read everything.
        if self.policy.on_open is OpenPolicy.PAUSE:
            return bridge.backlog > 0
        return all(n == 0 for n in self.src.lag().values())

    def process_some(self, records: int) -> None:
        """Step until at least `records` records were fetched."""
        for _ in range(MAX_STEPS):
            fetched = sum(len(self.src.logs[p]) - n for p, n in self.src.lag().items())
            if fetched >= records:
                return
            self.step()
        raise AssertionError("the bridge did not fetch enough")

    def restart_redis_during_traffic(self) -> None:
        """Half the traffic delivered, then Redis goes away and comes back a cool-down later."""
        self.process_some(len(self.produced) // 2)
        self.redis_down()
        self.process()
        assert self.bridge.breaker.state is BreakerState.OPEN
        self.redis_up()
        self.advance(self.breaker_policy.cool_down_s)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def restart(self, *, crash: bool) -> None:
        """A new bridge process: memory (owner cache, offsets, breaker) is gone."""
        if crash:
            self.src.crash()
        self._bridge = self._new_bridge()

    def start(self) -> None:
        assert self.bridge is not None

    # What happened.
    def all_received(self) -> dict[str, list[Delivered]]:
        return {user: self.received(user) for user in self.store.streams}

    def received(self, user: str) -> list[Delivered]:
        stream = self.store.streams.get(user)
        if stream is None:
            return []
        return [Delivered(sid, m.event_type, data_of(m.data)) for sid, m in stream.entries]

    def dead_letters(self) -> list[Letter]:
        return [Letter(d.record.key, d.record.value, d.code) for d in self.dlq.letters]

    def all_committed(self) -> bool:
        return all(self.src.committed[p] == len(self.src.logs[p]) for p in PARTITIONS)

    def ignored(self) -> dict[str, int]:
        return dict(self.telemetry.totals.ignored_by_reason)

    def dropped(self) -> dict[str, int]:
        return dict(self.telemetry.totals.dropped_by_reason)

    def duplicates_suppressed(self) -> int:
        return self.telemetry.totals.duplicates

    def committed_records(self) -> list[tuple[Record, SimRecord]]:
        """Every record below its partition's committed offset, with what it was meant to be."""
        out = []
        for p in PARTITIONS:
            for record in self.src.logs[p][: self.src.committed[p]]:
                out.append((record, self.origin[(p, record.offset)]))
        return out

    def redis_down(self) -> None:
        self.store.available = False

    def redis_up(self) -> None:
        self.store.available = True
