"""The notification's wire format (docs/redis-contract.md, "The notification"), parsed."""

from __future__ import annotations

from domain.gateway.entries import Entry
from domain.gateway.notices import Notice


def parse_notice(payload: bytes) -> Notice | None:
    """`E <previous> <last> <n>` + per entry ` <id> <type len> <session len> <data len>`, a
    newline, then each entry's type, session and data; or `I <previous> <last> <n>` (ids only).
    None for anything else (another format, a cut or garbled message): the connections of the
    user then read their stream, which is always right."""
    head, newline, body = payload.partition(b"\n")
    parts = head.split(b" ")
    try:
        kind, previous, last, count = parts[0], parts[1].decode(), parts[2].decode(), int(parts[3])
        if kind == b"I" and len(parts) == 4:
            return Notice(previous, last, None)
        if kind != b"E" or not newline or len(parts) != 4 + 4 * count:
            return None
        entries = []
        at = 0
        for k in range(4, len(parts), 4):
            session_at = at + int(parts[k + 1])
            data_at = session_at + int(parts[k + 2])
            end = data_at + int(parts[k + 3])
            if not at <= session_at <= data_at <= end:
                return None
            entries.append(
                Entry(parts[k], body[at:session_at], body[session_at:data_at], body[data_at:end])
            )
            at = end
    except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if at != len(body) or not entries or entries[-1].id != parts[2]:
        return None
    return Notice(previous, last, tuple(entries))
