"""The order of a round's steps: each pair of steps swaps its order from one round to the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def in_round(steps: Sequence[T], round_: int) -> list[T]:
    """Round 1 runs the steps as given, round 2 in reverse, round 3 as given from the second
    step on (the first last), round 4 that in reverse, ...: whatever a step leaves behind
    (Redis freeing or rewriting, a broker busy, a warm page cache) does not always fall on the
    same neighbour, and no step is always first."""
    shift = (round_ - 1) // 2 % max(len(steps), 1)
    turned = [*steps[shift:], *steps[:shift]]
    return turned if round_ % 2 else turned[::-1]
