"""`eventbridge dlq show|replay`: inspect the dead-letter topic, and send letters back.

`show` prints the newest dead letters as JSON lines. `replay` sends the original records of the
chosen letters back to `kafka.topic`, e.g. once an agent event's session has an owner
(`no_user`) or a producer bug is fixed; without `--yes` it only says what it would send. A
replayed event that is valid now is delivered once: the bridge's writes are idempotent by event
id. One that is still invalid is dead-lettered again.

Both count each source record once, by its root (eventbridge/dlq_lineage.py): a record
dead-lettered twice after a bridge crash, and a record replayed and dead-lettered again, are
one record, shown by its newest letter and replayed once, so a replay run again and again never
multiplies a record. `replay` sends only to `kafka.topic`, never to a topic a letter's header
names; a letter from another topic, one no bridge wrote, one truncated to fit the topic or one
only readable by hand is skipped, and the summary counts it.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TextIO

import orjson

from adapters.kafka.dead_letter_log import (
    StoredLetter,
    letter_count,
    read_letters,
    replay,
    replay_refusal,
)
from eventbridge.dlq_lineage import Lineage, by_root, shown
from eventbridge.settings import EventBridgeSettings


def _when(letter: StoredLetter) -> tuple[str, int, int]:
    return (letter.header("dlq.time") or "", letter.partition, letter.offset)


def newest_per_root(letters: list[StoredLetter]) -> list[Lineage[StoredLetter]]:
    """One lineage per source record, by its newest letter, oldest first (dead-letter time)."""
    return by_root(letters, when=_when)


async def show(
    settings: EventBridgeSettings, out: TextIO, *, limit: int, reason: str | None
) -> int:
    """Print the newest `limit` source records (whose newest letter has `reason`, if given),
    oldest first, each by its newest letter."""
    # Read the newest of each partition, more while duplicates leave fewer than `limit`
    # records and there is more to read (everything, when a reason filters them further).
    newest = None if reason else limit
    total = None if reason else await letter_count(settings.kafka)
    while True:
        groups = [
            g
            for g in newest_per_root(
                [letter async for letter in read_letters(settings.kafka, newest=newest)]
            )
            if reason is None or g.newest.reason == reason
        ]
        if newest is None or total is None or len(groups) >= limit or newest >= total:
            break
        newest *= 2
    for group in groups[-limit:]:
        summary = {**group.newest.summary(), "root": shown(group.root)}
        out.write(orjson.dumps(summary).decode() + "\n")
    return len(groups[-limit:])


@dataclasses.dataclass
class _Skipped:
    duplicate: int = 0
    truncated: int = 0
    unreadable: int = 0
    other_topic: int = 0

    def count(self, letter: StoredLetter) -> None:
        if letter.unreadable is not None:
            self.unreadable += 1
        elif letter.truncated:
            self.truncated += 1
        else:
            self.other_topic += 1  # from another topic, or naming none


async def _choose(
    settings: EventBridgeSettings,
    *,
    reason: str | None,
    since: datetime | None,
    limit: int,
    skipped: _Skipped,
    err: TextIO,
) -> tuple[set[str], Counter[str]]:
    """Where the letters to replay are: one per root (its newest), of `reason`, dead-lettered
    at or after `since`, at most `limit`, oldest first. Read without their values (a second
    read sends them), so a large dead-letter topic is not held in memory."""
    light = [
        dataclasses.replace(letter, key=None, value=None)
        async for letter in read_letters(settings.kafka)
    ]
    chosen: set[str] = set()
    by_reason: Counter[str] = Counter()
    for group in newest_per_root(light):
        letter = group.newest
        if reason is not None and letter.reason != reason:
            continue
        when = letter.time
        if since is not None and (when is None or when < since):
            continue
        skipped.duplicate += group.letters - 1  # the same record, dead-lettered again
        refused = replay_refusal(letter, settings.kafka.topic)
        if refused is not None:
            skipped.count(letter)
            err.write(f"eventbridge: {letter.at} not replayed: {refused}\n")
            continue
        if len(chosen) < limit:
            chosen.add(letter.at)
            by_reason[letter.reason or "?"] += 1
    return chosen, by_reason


async def _letters_at(
    settings: EventBridgeSettings, chosen: set[str]
) -> AsyncIterator[StoredLetter]:
    async for letter in read_letters(settings.kafka):
        if letter.at in chosen:
            yield letter


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
    """Send the chosen letters' records back to `kafka.topic` (only with `yes`), each source
    record once; print a summary by reason and what was skipped."""
    skipped = _Skipped()
    chosen, by_reason = await _choose(
        settings, reason=reason, since=since, limit=limit, skipped=skipped, err=err or sys.stderr
    )
    if yes:
        sent_by: Counter[str] = Counter()  # what was sent, should a letter expire meanwhile

        def count(letter: StoredLetter) -> None:
            sent_by[letter.reason or "?"] += 1

        sent = 0
        if chosen:
            sent = await replay(settings.kafka, _letters_at(settings, chosen), on_sent=count)
        summary = {"replayed": sent, "by_reason": sent_by, "skipped": dataclasses.asdict(skipped)}
        out.write(orjson.dumps(summary).decode() + "\n")
        return sent
    total = len(chosen)
    summary = {
        "would_replay": total,
        "by_reason": by_reason,
        "skipped": dataclasses.asdict(skipped),
    }
    out.write(
        orjson.dumps(summary).decode()
        + "\n"
        + "dry run: add --yes to send them back to kafka.topic\n"
    )
    return total
