"""`eventbridge dlq show|replay`: inspect the dead-letter topic, and send letters back.

`show` prints the newest dead letters as JSON lines. `replay` sends the original records of the
chosen letters back to the topic they came from, e.g. once an agent event's session has an
owner (`no_user`) or a producer bug is fixed; without `--yes` it only says what it would send.
A replayed event that is valid now is delivered once: the bridge's writes are idempotent by
event id. One that is still invalid is dead-lettered again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TextIO

import orjson

from adapters.kafka.dead_letter_log import StoredLetter, read_letters, replay
from eventbridge.settings import EventBridgeSettings


async def show(
    settings: EventBridgeSettings, out: TextIO, *, limit: int, reason: str | None
) -> int:
    """Print the newest `limit` dead letters (of `reason`, if given), oldest first."""
    # Read the newest `limit` of each partition (enough when no reason filters them further).
    newest = None if reason else limit
    letters = [
        letter
        async for letter in read_letters(settings.kafka, newest=newest)
        if reason is None or letter.reason == reason
    ]
    letters.sort(key=lambda letter: (letter.header("dlq.time") or "", letter.offset))
    for letter in letters[-limit:]:
        out.write(orjson.dumps(letter.summary()).decode() + "\n")
    return len(letters[-limit:])


def _chosen(
    letters: AsyncIterator[StoredLetter], reason: str | None, since: datetime | None, limit: int
) -> AsyncIterator[StoredLetter]:
    async def chosen() -> AsyncIterator[StoredLetter]:
        taken = 0
        async for letter in letters:
            if taken >= limit:
                return
            if reason is not None and letter.reason != reason:
                continue
            when = letter.time
            if since is not None and (when is None or when < since):
                continue
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
) -> int:
    """Send the chosen letters' records back (only with `yes`); print a summary by reason."""
    chosen = _chosen(read_letters(settings.kafka), reason, since, limit)
    by_reason: Counter[str] = Counter()

    def count(letter: StoredLetter) -> None:
        by_reason[letter.reason or "?"] += 1

    if yes:
        sent = await replay(settings.kafka, chosen, on_sent=count)
        out.write(orjson.dumps({"replayed": sent, "by_reason": by_reason}).decode() + "\n")
        return sent
    async for letter in chosen:
        count(letter)
    total = sum(by_reason.values())
    out.write(
        orjson.dumps({"would_replay": total, "by_reason": by_reason}).decode()
        + "\n"
        + "dry run: add --yes to send them back to their topic\n"
    )
    return total
