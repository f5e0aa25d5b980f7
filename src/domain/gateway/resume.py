"""Resume or reset: whether a client's `Last-Event-ID` continues its stream without a gap."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.gateway.stream_ids import StreamId, window_score


class ResetReason(StrEnum):
    """Why a resuming client is sent `event: reset` first (docs/redis-contract.md)."""

    MALFORMED = "malformed"  # not an id Redis could have issued
    EXPIRED = "expired"  # the user's stream no longer exists
    TRIMMED = "trimmed"  # entries after the id may be gone
    UNKNOWN_ID = "unknown_id"  # an id this stream never issued (another incarnation of it)


@dataclass(frozen=True, slots=True)
class StreamFacts:
    """What the user's stream says about itself (XINFO STREAM), read after the resume page."""

    exists: bool
    last_generated: StreamId = (0, 0)
    max_deleted: StreamId = (0, 0)
    first: StreamId | None = None  # the oldest entry held; None when it holds none


@dataclass(frozen=True, slots=True)
class WindowFacts:
    """What the user's dedup window (`ids` set) says about the span between two entries."""

    lowest: int | None  # the lowest score it holds; None when it is empty
    between: int  # how many entries it holds strictly between the two


class Resume(StrEnum):
    """A decision that is not a reset."""

    CONTINUE = "continue"  # the page read after the id is a whole continuation
    CHECK_WINDOW = "check_window"  # ask the dedup window (`decide_window`) before deciding


def decide_resume(last: StreamId, facts: StreamFacts) -> Resume | ResetReason:
    """Continue after `last`, reset (and why), or look further: `last` is older than the oldest
    entry held, and Redis 7.0 does not move `max-deleted-entry-id` when `XADD MAXLEN` trims,
    so only the (longer) dedup window can tell whether an entry between the two ever existed."""
    if not facts.exists:
        return ResetReason.EXPIRED
    if last > facts.last_generated:
        return ResetReason.UNKNOWN_ID
    if last < facts.max_deleted:
        return ResetReason.TRIMMED
    if facts.first is None or last >= facts.first:
        return Resume.CONTINUE
    return Resume.CHECK_WINDOW


def decide_window(last: StreamId, window: WindowFacts) -> Resume | ResetReason:
    """After CHECK_WINDOW: whole only if the window still reaches back to `last` and holds no
    entry between `last` and the oldest entry held (that entry was trimmed)."""
    if window.lowest is None or window.lowest > window_score(last):
        return ResetReason.TRIMMED  # the window no longer reaches back to `last`: assume a gap
    return ResetReason.TRIMMED if window.between > 0 else Resume.CONTINUE
