"""Resume or reset (docs/redis-contract.md): the decision from a last id and the stream's facts."""

from __future__ import annotations

import pytest

from domain.gateway.resume import (
    ResetReason,
    Resume,
    StreamFacts,
    WindowFacts,
    decide_resume,
    decide_window,
)
from domain.gateway.stream_ids import LAST, behind, format_id, window_score

pytestmark = pytest.mark.unit

HELD = StreamFacts(exists=True, last_generated=(50, 0), max_deleted=(0, 0), first=(20, 0))


def test_a_stream_that_no_longer_exists_is_an_expired_reset() -> None:
    assert decide_resume((10, 0), StreamFacts(exists=False)) is ResetReason.EXPIRED


def test_an_id_newer_than_any_the_stream_issued_is_unknown() -> None:
    assert decide_resume((50, 1), HELD) is ResetReason.UNKNOWN_ID
    assert decide_resume(LAST, HELD) is ResetReason.UNKNOWN_ID


def test_an_id_below_the_highest_deleted_one_was_trimmed() -> None:
    facts = StreamFacts(exists=True, last_generated=(50, 0), max_deleted=(30, 0), first=(31, 0))
    assert decide_resume((29, 9), facts) is ResetReason.TRIMMED
    assert decide_resume((30, 0), facts) is Resume.CHECK_WINDOW  # not below it


def test_an_id_within_what_is_held_or_an_empty_stream_continues() -> None:
    assert decide_resume((20, 0), HELD) is Resume.CONTINUE
    assert decide_resume((50, 0), HELD) is Resume.CONTINUE
    empty = StreamFacts(exists=True, last_generated=(50, 0), first=None)
    assert decide_resume((10, 0), empty) is Resume.CONTINUE


def test_an_id_older_than_the_oldest_entry_held_asks_the_dedup_window() -> None:
    assert decide_resume((19, 5), HELD) is Resume.CHECK_WINDOW


def test_the_window_continues_only_when_it_reaches_back_and_holds_nothing_between() -> None:
    last = (19, 5)
    assert decide_window(last, WindowFacts(lowest=window_score(last), between=0)) is Resume.CONTINUE
    assert decide_window(last, WindowFacts(lowest=window_score(last), between=1)) is (
        ResetReason.TRIMMED
    )
    assert decide_window(last, WindowFacts(lowest=window_score(last) + 1, between=0)) is (
        ResetReason.TRIMMED
    )
    assert decide_window(last, WindowFacts(lowest=None, between=0)) is ResetReason.TRIMMED


def test_the_window_score_is_the_publish_scripts() -> None:
    assert window_score((1700000000123, 0)) == 1700000000123000
    assert window_score((5, 7)) == 5007
    assert window_score((5, 12345)) == 5999  # the sequence is capped, as in the script


def test_a_connection_is_behind_only_when_the_stream_holds_an_entry_past_its_cursor() -> None:
    assert behind((5, 1), "5-0")
    assert not behind((5, 0), "5-0")
    assert not behind(None, "0-0")
    assert behind((0, 1), "not-an-id")  # an unreadable cursor counts as the start
    assert format_id((12, 3)) == "12-3"
