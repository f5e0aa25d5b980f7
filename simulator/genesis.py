"""Realistic Genesis session traffic (SPEC §12): seeded records, each with its expected fate."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter

from simulator.genesis_bad import FOREIGN_WEIGHT, bad_draft
from simulator.genesis_model import (
    BAD_KINDS,
    GOOD_KINDS,
    Draft,
    Expectation,
    Outcome,
    SimRecord,
    TrafficConfig,
)
from simulator.genesis_session import Pace, UserWalk

__all__ = [
    "BAD_KINDS",
    "GOOD_KINDS",
    "Clock",
    "Expectation",
    "Outcome",
    "SimRecord",
    "TrafficConfig",
    "generate",
    "generate_n",
    "utc_now",
]

Clock = Callable[[], datetime]
_CALIBRATION_S = 4000.0  # natural seconds of one user, enough for ~40 sessions
_AT = attrgetter("at")


def utc_now() -> datetime:
    """The default clock: event timestamps are the moment a record is produced."""
    return datetime.now(UTC)


def generate(config: TrafficConfig, *, clock: Clock = utc_now) -> Iterator[SimRecord]:
    """All users' traffic for the run, in non-decreasing `at`, ending at `duration_s`.

    Everything but the timestamps follows from the seed; each record is stamped with `clock()`
    as it is taken from the iterator, so the bridge's future-skew check sees the present.
    """
    pace, bad_probability = _plan(config)
    root = random.Random(config.seed)
    streams = [
        _user_stream(
            random.Random(root.getrandbits(64)),
            random.Random(root.getrandbits(64)),
            str(user),
            config=config,
            pace=pace,
            bad_probability=bad_probability,
        )
        for user in range(1, config.users + 1)
    ]
    for draft in heapq.merge(*streams, key=_AT):
        if draft.at >= config.duration_s:
            return
        yield draft.render(clock())


def generate_n(
    n: int, *, seed: int = 7, users: int = 50, bad_ratio: float = 0.02, clock: Clock = utc_now
) -> list[SimRecord]:
    """Exactly `n` records of the same traffic, for tests and benchmarks (`at` is meaningless)."""
    config = TrafficConfig(seed=seed, users=users, bad_ratio=bad_ratio, duration_s=math.inf)
    return list(itertools.islice(generate(config, clock=clock), n))


def _user_stream(
    rng: random.Random,
    hostile: random.Random,
    owner: str,
    *,
    config: TrafficConfig,
    pace: Pace,
    bad_probability: float,
) -> Iterator[Draft]:
    """One user's sessions, with bad records (in sessions of their own) slipped in between."""
    for draft in UserWalk(rng, hostile, owner, config.users, pace).drafts():
        yield draft
        if hostile.random() < bad_probability:
            yield bad_draft(
                hostile, at=draft.at, users=config.users, oversize_bytes=config.oversize_bytes
            )


def _plan(config: TrafficConfig) -> tuple[Pace, float]:
    """Scale the natural timeline to `rate`, and turn `bad_ratio` into per-record odds.

    Of all records N = G good + O injected: O = p*G gives O/N = p/(1+p); foreign commands
    replace a share c of G, so F/N = q*c/(1+p).
    """
    events_per_s, command_share = _natural_rates(config.think_time_s, config.burst_probability)
    foreign_ratio = config.bad_ratio * FOREIGN_WEIGHT
    other_ratio = config.bad_ratio - foreign_ratio
    bad_probability = other_ratio / (1.0 - other_ratio)
    foreign_probability = min(1.0, foreign_ratio * (1.0 + bad_probability) / command_share)
    good_rate = config.rate / (1.0 + bad_probability)
    scale = config.users * events_per_s / good_rate
    pace = Pace(scale, config.think_time_s, config.burst_probability, foreign_probability)
    return pace, bad_probability


@lru_cache(maxsize=64)
def _natural_rates(think_time_s: tuple[float, float], burst: float) -> tuple[float, float]:
    """Good records per natural second of one user, and the share that are commands."""
    walk = UserWalk(
        random.Random(0x5EED), random.Random(0), "1", 1, Pace(1.0, think_time_s, burst, 0.0)
    )
    end = walk.t + _CALIBRATION_S
    events = commands = 0
    for draft in walk.drafts():
        if draft.at >= end:
            break
        events += 1
        commands += draft.expect.kind == "command"
    return events / _CALIBRATION_S, commands / events
