"""`eventbridge check`: run the filter and mapper over JSON-lines envelopes and print verdicts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from domain.model import Partition, Record
from eventbridge.settings import EventBridgeSettings
from eventbridge.triager import build_triager

_SOURCE = Partition("input", 0)


def check_lines(lines: Iterable[bytes], settings: EventBridgeSettings, out: TextIO) -> int:
    """Print one verdict per line (and the SSE message of deliveries); return the invalid count.

    Session owners are learned from earlier lines, as the bridge learns them from earlier
    events (here the owner index is a dict: first owner wins), so an AI-agent event after its
    session's command routes like it would in production.
    """
    triager = build_triager(settings.filter)
    invalid = 0
    index: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        record = Record(_SOURCE, number, None, line)
        decoded = triager.decode([record])
        triage = triager.triage(decoded, now=datetime.now(UTC))
        if triage.asks:
            before = {s: index[s] for s in (*triage.lookups, *triage.claims) if s in index}
            for session_id, user_id in triage.claims.items():
                index.setdefault(session_id, user_id)
            triager.settle(triage, before)
        owners = [
            index.setdefault(m.session_id, m.user_id) if m.teaches_owner else None
            for _, m in triage.deliver
        ]
        triager.published(triage.deliver, owners)
        for _, message in triage.deliver:
            out.write(f"line {number}: delivered to user {message.user_id}\n")
            out.write(f"event: {message.event_type}\ndata: {message.data.decode()}\n\n")
        for reason, _ in triage.ignored_by_reason.items():
            out.write(f"line {number}: ignored {reason}\n")
        for letter in triage.letters:
            invalid += 1
            out.write(f"line {number}: invalid {letter.code}: {letter.message}\n")
    return invalid
