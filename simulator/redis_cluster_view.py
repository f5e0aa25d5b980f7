"""What one Redis Cluster node believes about the cluster: CLUSTER NODES and CLUSTER INFO."""

from __future__ import annotations

from dataclasses import dataclass

SLOTS = 16384


@dataclass(frozen=True)
class NodeEntry:
    """One line of `CLUSTER NODES`, as seen by the node that answered."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    connected: bool
    slots: tuple[tuple[int, int], ...]

    @property
    def master(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        """Marked as failed (`fail`) or suspected by this node (`fail?`), or never met."""
        return bool(self.flags & {"fail", "fail?", "handshake", "noaddr"})

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)


def _slots(tokens: list[str]) -> tuple[tuple[int, int], ...]:
    ranges = []
    for token in tokens:
        if token.startswith("["):  # a slot being migrated or imported: not (yet) served here
            continue
        start, _, end = token.partition("-")
        ranges.append((int(start), int(end or start)))
    return tuple(sorted(ranges))


def parse_nodes(text: str) -> list[NodeEntry]:
    """`<id> <ip:port@bus[,host]> <flags> <master|-> <ping> <pong> <epoch> <link> <slot>...`"""
    entries = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 8:
            continue
        address = cols[1].split("@", 1)[0]
        entries.append(
            NodeEntry(
                node_id=cols[0],
                port=int(address.rsplit(":", 1)[1]),
                flags=frozenset(cols[2].split(",")),
                master_id=None if cols[3] == "-" else cols[3],
                connected=cols[7] == "connected",
                slots=_slots(cols[8:]),
            )
        )
    return entries


def parse_info(text: str) -> dict[str, str]:
    """`CLUSTER INFO`'s `key:value` lines."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def slot_owners(entries: list[NodeEntry]) -> tuple[tuple[int, int, int], ...]:
    """(first slot, last slot, port of the master serving them), for masters not failing:
    the slot map a client gets from this node."""
    return tuple(
        sorted(
            (start, end, e.port)
            for e in entries
            if e.master and not e.failing
            for start, end in e.slots
        )
    )


def covers_every_slot(owners: tuple[tuple[int, int, int], ...]) -> bool:
    """Whether the ranges cover 0..16383 exactly once."""
    expected = 0
    for start, end, _ in owners:
        if start != expected:
            return False
        expected = end + 1
    return expected == SLOTS


def unreplicated_masters(entries: list[NodeEntry]) -> list[NodeEntry]:
    """Masters serving slots that no connected, non-failing replica follows."""
    followed = {
        e.master_id
        for e in entries
        if not e.master and e.master_id and e.connected and not e.failing
    }
    return [e for e in entries if e.master and e.slots and e.node_id not in followed]
