"""Where a new connection starts: the last `history` events, or a resume after its last id."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.gateway.ports import StreamReader
from domain.gateway.entries import Entry, of_session
from domain.gateway.resume import ResetReason, Resume, decide_resume, decide_window
from domain.gateway.stream_ids import ZERO, format_id, parse_id


@dataclass(frozen=True, slots=True)
class Start:
    """Read after `cursor`; `entries` are already read for the connection; `reset` (and the
    oldest entry held) when a reset is due."""

    cursor: str
    entries: list[Entry] = field(default_factory=list)
    reset: ResetReason | None = None
    oldest: str | None = None


async def fresh(
    reader: StreamReader, user: str, history: int, session: bytes | None, page: int
) -> Start:
    """A new connection: the last `history` events (of `session`, if given), then live after
    the newest entry it saw (`0-0` when the stream does not exist yet)."""
    want = max(history, 1)
    found: list[Entry] = []
    cursor: str | None = None
    before: str | None = None
    while True:
        count = want if session is None else page
        entries = await reader.newest(user, count, before=before)
        if cursor is None:
            cursor = entries[0].id.decode() if entries else ZERO
        found += of_session(entries, session)
        if history == 0 or len(found) >= history or len(entries) < count:
            break
        before = entries[-1].id.decode()
    if history == 0:
        return Start(cursor)
    return Start(cursor, list(reversed(found[:history])))


async def resume(reader: StreamReader, user: str, last_event_id: str, page: int) -> Start:
    """Replay after `last_event_id`, or a reset and everything still held if a gap may exist
    (domain.gateway.resume decides)."""
    last = parse_id(last_event_id)
    if last is None:
        return Start(ZERO, reset=ResetReason.MALFORMED)
    entries, facts = await reader.resume_facts(user, last, page)
    decision = decide_resume(last, facts)
    if decision is Resume.CHECK_WINDOW and facts.first is not None:
        decision = decide_window(last, await reader.window_facts(user, last, facts.first))
    if isinstance(decision, ResetReason):
        oldest = format_id(facts.first) if facts.first is not None else None
        return Start(ZERO, reset=decision, oldest=oldest)
    return Start(format_id(last), entries)
