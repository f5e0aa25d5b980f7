"""The heartbeat tick and the lease renewal spread their chunks over their period: 10,000
connections are 100 small steps, not one burst of heartbeats, reads and renewals."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

import pytest

from application.fakes import FakeLeases, FakeStreamReader
from domain.gateway.leases import LeasePolicy
from domain.gateway.stream_ids import StreamId
from tests.gateway_over_fakes import FRESH, FakeGateway, settle

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


class Recorded(FakeStreamReader):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []  # how many users each newest-id lookup named

    async def last_ids(self, users: Collection[str]) -> dict[str, StreamId | None]:
        self.asked.append(len(users))
        return await super().last_ids(users)


class RecordedLeases(FakeLeases):
    def __init__(self) -> None:
        super().__init__(LeasePolicy(limit=5, lease_s=27))
        self.renewed: list[int] = []

    async def renew(self, leases: Sequence[tuple[str, str]], *, now: float) -> None:
        self.renewed.append(len(leases))
        await super().renew(leases, now=now)


def test_the_tick_and_the_renewal_spread_their_chunks_over_the_period() -> None:
    reader, leases = Recorded(), RecordedLeases()
    gw = FakeGateway(streams=reader, leases=leases, heartbeat_s=9, limit=5, lease_s=27)

    async def scenario() -> None:
        async with gw.running():
            for i in range(250):  # three chunks of at most 100
                await gw.service.open(gw.principal(f"u{i}"), **FRESH)
            task = asyncio.create_task(gw.service.run())
            try:
                await settle()
                assert reader.asked == []  # a third of the period, then the first chunk
                assert leases.renewed == []  # renewal: every min(9, 27 / 3) = 9 s
                gw.clock.advance(3)
                await settle()
                assert reader.asked == [100]
                assert leases.renewed == [100]
                gw.clock.advance(3)
                await settle()
                assert reader.asked == [100, 100]
                assert leases.renewed == [100, 100]
                gw.clock.advance(2.9)
                await settle()
                assert reader.asked == [100, 100]  # the last chunk ends the period
                gw.clock.advance(0.1)
                await settle()
                assert reader.asked == [100, 100, 50]
                assert leases.renewed == [100, 100, 50]
                gw.clock.advance(3)
                await settle()
                assert reader.asked == [100, 100, 50, 100]  # the next period's first chunk
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
