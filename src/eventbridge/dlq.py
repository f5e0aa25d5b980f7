"""`eventbridge dlq show|replay`: inspect the dead-letter topic, and send letters back.

`show` prints the newest dead letters as JSON lines. `replay` sends the original records of the
chosen letters back to the topic they came from, e.g. once an agent event's session has an
owner (`no_user`) or a producer bug is fixed; without `--yes` it only says what it would send.
A replayed event that is valid now is delivered once: the bridge's writes are idempotent by
event id. One that is still invalid is dead-lettered again. Both count each source record
(topic, partition, offset) once: a bridge that crashed between a dead letter and its commit
writes that record's letter again. A truncated letter (cut to fit the dead-letter topic) is
shown, never replayed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

import orjson

from adapters.kafka.dead_letter_log import StoredLetter, letter_count, read_letters, replay
from eventbridge.settings import EventBridgeSettings


def newest_per_source(letters: list[StoredLetter]) -> list[StoredLetter]:
    """One letter per source record (topic, partition, offset): a record dead-lettered twice
    (the bridge crashed between the letter and its commit) is shown once, by its newest letter.
    Oldest first, by dead-letter time."""
    newest: dict[object, StoredLetter] = {}
    for letter in letters:
        source = letter.source or (letter.topic, letter.partition, letter.offset, "dlq")
        kept = newest.get(source)
        if kept is None or _when(letter) >= _when(kept):
            newest[source] = letter
    return sorted(newest.values(), key=_when)


def _when(letter: StoredLetter) -> tuple[str, int, int]:
    return (letter.header("dlq.time") or "", letter.partition, letter.offset)


async def show(
    settings: EventBridgeSettings, out: TextIO, *, limit: int, reason: str | None
) -> int:
    """Print the newest `limit` dead letters (of `reason`, if given), oldest first, one per
    source record."""
    # Read the newest of each partition, more while duplicates leave fewer than `limit`
    # sources and there is more to read (everything, when a reason filters them further).
    newest = None if reason else limit
    total = None if reason else await letter_count(settings.kafka)
    while True:
        letters = newest_per_source(
            [
                letter
                async for letter in read_letters(settings.kafka, newest=newest)
                if reason is None or letter.reason == reason
            ]
        )
        if newest is None or total is None or len(letters) >= limit or newest >= total:
            break
        newest *= 2
    for letter in letters[-limit:]:
        out.write(orjson.dumps(letter.summary()).decode() + "\n")
    return len(letters[-limit:])


@dataclass
class _Skipped:
    duplicate: int = 0
    truncated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"duplicate": self.duplicate, "truncated": self.truncated}


def _chosen(
    letters: AsyncIterator[StoredLetter],
    *,
    reason: str | None,
    since: datetime | None,
    limit: int,
    skipped: _Skipped,
    err: TextIO,
) -> AsyncIterator[StoredLetter]:
    async def chosen() -> AsyncIterator[StoredLetter]:
        taken = 0
        seen: set[object] = set()
        async for letter in letters:
            if taken >= limit:
                return
            if reason is not None and letter.reason != reason:
                continue
            when = letter.time
            if since is not None and (when is None or when < since):
                continue
            source = letter.source
            if source is not None and source in seen:
                skipped.duplicate += 1  # the same record dead-lettered again: sent once
                continue
            if letter.truncated:
                skipped.truncated += 1
                err.write(
                    f"eventbridge: {letter.topic}/{letter.partition}/{letter.offset} not replayed:"
                    " the letter was truncated to fit the dead-letter topic, so it does not hold"
                    " the original record (its dlq.sha256 names it)\n"
                )
                continue
            if source is not None:
                seen.add(source)
            taken += 1
            yield letter

    return chosen()


async def replay_letters(
    settings: EventBridgeSettings,
    out: TextIO,
    *,
    reason: str | None,
    since: datetime | None,
    limit: int,
    yes: bool,
    err: TextIO | None = None,
) -> int:
    """Send the chosen letters' records back (only with `yes`), each source record once and
    never a truncated letter; print a summary by reason and what was skipped."""
    skipped = _Skipped()
    chosen = _chosen(
        read_letters(settings.kafka),
        reason=reason,
        since=since,
        limit=limit,
        skipped=skipped,
        err=err or sys.stderr,
    )
    by_reason: Counter[str] = Counter()

    def count(letter: StoredLetter) -> None:
        by_reason[letter.reason or "?"] += 1

    if yes:
        sent = await replay(settings.kafka, chosen, on_sent=count)
        summary = {"replayed": sent, "by_reason": by_reason, "skipped": skipped.as_dict()}
        out.write(orjson.dumps(summary).decode() + "\n")
        return sent
    async for letter in chosen:
        count(letter)
    total = sum(by_reason.values())
    summary = {"would_replay": total, "by_reason": by_reason, "skipped": skipped.as_dict()}
    out.write(
        orjson.dumps(summary).decode()
        + "\n"
        + "dry run: add --yes to send them back to their topic\n"
    )
    return total
