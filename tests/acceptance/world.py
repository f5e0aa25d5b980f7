"""What a scenario acts on: the bridge over fakes by default, the real processes for @e2e."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from simulator.genesis_model import Draft, SimRecord
from tests.acceptance.genesis_events import GenesisEvents


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message in a user's stream, as the browser gets it."""

    stream_id: str
    event_type: str
    data: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.data["event_id"])


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter: the original record and the reason it was refused."""

    key: bytes | None
    value: bytes | None
    reason: str


@dataclass
class World:
    """The state a scenario builds up, and the operations both worlds offer."""

    runner: asyncio.Runner
    events: GenesisEvents = field(default_factory=GenesisEvents)
    sessions: dict[str, str] = field(default_factory=dict)  # user → their current session
    owners: dict[str, str] = field(default_factory=dict)  # session → the user who started it
    notes: dict[str, Any] = field(default_factory=dict)
    produced: list[SimRecord] = field(default_factory=list)
    named: dict[str, list[SimRecord]] = field(default_factory=dict)
    last_session: str = ""

    def now(self) -> datetime:
        raise NotImplementedError

    def add(self, draft: Draft, *, name: str | None = None, shift_s: float = 0.0) -> SimRecord:
        """An event arrives on the domain topic (stamped with the world's present)."""
        record = draft.render(self.now() + timedelta(seconds=shift_s))
        self.add_record(record, name=name)
        return record

    def add_record(self, record: SimRecord, *, name: str | None = None) -> None:
        self.send(record)
        self.produced.append(record)
        if name is not None:
            self.named.setdefault(name, []).append(record)

    def last(self, name: str) -> SimRecord:
        return self.named[name][-1]

    # What each world implements.
    def start(self) -> None:
        """The bridge is up and consuming."""
        raise NotImplementedError

    def send(self, record: SimRecord) -> None:
        raise NotImplementedError

    def process(self) -> None:
        """Let the bridge work until it has done what it can with what has arrived."""
        raise NotImplementedError

    def received(self, user: str) -> list[Delivered]:
        raise NotImplementedError

    def all_received(self) -> dict[str, list[Delivered]]:
        """Every user's stream, as their browsers get it."""
        raise NotImplementedError

    def dead_letters(self) -> list[Letter]:
        raise NotImplementedError

    def all_committed(self) -> bool:
        raise NotImplementedError

    def ignored(self) -> dict[str, int]:
        raise NotImplementedError

    def duplicates_suppressed(self) -> int:
        raise NotImplementedError

    def restart_redis_during_traffic(self) -> None:
        raise NotImplementedError

    def redis_down(self) -> None:
        raise NotImplementedError

    def redis_up(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the world started (processes, connections)."""


def data_of(raw: bytes) -> dict[str, Any]:
    value = orjson.loads(raw)
    assert isinstance(value, dict)
    return value
