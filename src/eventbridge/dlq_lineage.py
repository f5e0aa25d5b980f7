"""Which dead letters hold the same source record: each letter's root, through its lineage.

A record can be dead-lettered more than once: a bridge that crashed between a letter and its
commit writes it again (same source coordinates), and a replayed record that is still invalid
is dead-lettered again as a new record of the domain topic, whose letter names the letter it
was replayed from (`dlq.replayed_from`). Following that lineage back to its first letter gives
the record's root: its original (topic, partition, offset). `dlq show` and `dlq replay` count
and send each root once, so that replaying again and again never multiplies a record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

Root = tuple[str, ...]


class Traced(Protocol):
    """What lineage needs of a letter."""

    @property
    def at(self) -> str:
        """Where the letter is: `<dlq topic>/<partition>/<offset>`."""

    @property
    def replayed_from(self) -> str | None:
        """The `at` of the letter its record was replayed from, if it was."""

    @property
    def source(self) -> tuple[str, int, int] | None:
        """The coordinates of the record it holds, if it says."""


L = TypeVar("L", bound=Traced)


def roots(letters: Iterable[Traced]) -> dict[str, Root]:
    """Each letter's root, by its `at`: the source of the first letter of its lineage.

    A letter replayed from one no longer among `letters` (expired by retention, or not read)
    has that missing letter as its root, so its descendants still share one root. A letter
    that names no source is a root of its own; a lineage that loops (only a forged header can
    make one) has its smallest member as root.
    """
    by_at = {letter.at: letter for letter in letters}
    found: dict[str, Root] = {}
    for start in by_at:
        path: list[str] = []
        on_path: set[str] = set()
        at = start
        while True:
            if at in found:
                root = found[at]
                break
            letter = by_at.get(at)
            if letter is None:
                root = ("replayed_from", at)
                break
            if at in on_path:
                root = ("cycle", min(path[path.index(at) :]))
                break
            path.append(at)
            on_path.add(at)
            parent = letter.replayed_from
            if parent is None:
                source = letter.source
                root = ("letter", at) if source is None else ("source", *map(str, source))
                break
            at = parent
        for member in path:
            found[member] = root
    return found


def shown(root: Root) -> str:
    """A root as `dlq show` prints it: the source record `topic/partition/offset`, or the
    letter it goes back to when that is all there is."""
    kind, *rest = root
    return "/".join(rest) if kind == "source" else f"{kind} {'/'.join(rest)}"


@dataclass(frozen=True, slots=True)
class Lineage(Generic[L]):
    """One root's letters: the newest stands for them all (its reason is the latest verdict)."""

    root: Root
    newest: L
    letters: int


def by_root(letters: list[L], *, when: Callable[[L], tuple[str, int, int]]) -> list[Lineage[L]]:
    """The letters grouped by root, oldest first by each root's newest letter (`when`)."""
    rooted = roots(letters)
    newest: dict[Root, L] = {}
    count: dict[Root, int] = {}
    for letter in letters:
        root = rooted[letter.at]
        count[root] = count.get(root, 0) + 1
        kept = newest.get(root)
        if kept is None or when(letter) >= when(kept):
            newest[root] = letter
    groups = [Lineage(root, letter, count[root]) for root, letter in newest.items()]
    return sorted(groups, key=lambda g: when(g.newest))
