"""The bookkeeping of one try at a batch: a pure function from what happened to what is done."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.bridge.bookkeeping import Attempt, Booked, book
from application.ports import DeadLetter, PublishResult
from application.triage import Triage
from domain.model import Partition, Record, SseMessage

pytestmark = pytest.mark.unit

P = Partition("genesis", 0)
NOW = 1_800_000_000.0


def batch() -> tuple[list[Record], Triage]:
    """Six records: three deliveries, one dead letter, one ignored, one unroutable."""
    records = [Record(P, i, None, b"{}") for i in range(6)]
    t = Triage()
    for i, kind in ((0, "A"), (2, "B"), (3, "A")):
        message = SseMessage(
            "7", "s", f"e{i}", f"Genesis.Session.{kind}", b"{}", timestamp_s=NOW - i
        )
        t.deliver.append((records[i], message))
    t.letters.append(DeadLetter(records[1], "invalid_json", "record value is not JSON"))
    t.invalid_by_reason["invalid_json"] = 1
    t.ignored.append(records[4])
    t.ignored_by_reason["not_whitelisted"] = 1
    t.unroutable.append(records[5])
    return records, t


def ok(stream_id: str = "1-0", **kw: object) -> PublishResult:
    return PublishResult("e", stream_id, duplicate=False, **kw)  # type: ignore[arg-type]


def test_a_published_batch_is_finished_and_counted_by_what_the_store_did() -> None:
    records, t = batch()
    results = [ok(), PublishResult("e", "", duplicate=True), ok(refused="WRONGTYPE")]
    booked = book(Attempt(records, t, results, publish_seconds=0.004), now_s=NOW)
    assert booked.finished == records
    assert booked.kept == ()
    report = booked.report
    assert report is not None
    assert report.consumed == 6
    assert report.published_by_type == {"Genesis.Session.A": 1}
    assert report.duplicates == 1
    assert report.invalid_by_reason == {"invalid_json": 1, "internal_error": 1}
    assert report.dead_lettered == 2  # the invalid record, and the message Redis refused
    assert report.ignored_by_reason == {"not_whitelisted": 1}
    assert report.end_to_end_seconds == [0.0]  # only what was appended: e0, stamped NOW
    assert report.publish_seconds == 0.004


def test_a_dead_letter_that_failed_keeps_the_whole_batch_even_when_redis_took_it() -> None:
    records, t = batch()
    booked = book(Attempt(records, t, [ok(), ok(), ok()], letters_failed=True), now_s=NOW)
    assert booked == Booked(kept=records)


def test_a_failed_write_keeps_all_but_the_dead_letters_that_went_out_beside_it() -> None:
    records, t = batch()
    booked = book(Attempt(records, t, None), now_s=NOW)
    assert booked.finished == [records[1]]
    assert list(booked.kept) == [r for r in records if r is not records[1]]
    assert booked.report is not None
    assert (booked.report.consumed, booked.report.dead_lettered) == (1, 1)
    assert booked.report.invalid_by_reason == {"invalid_json": 1}
    assert booked.report.published_by_type == {}


def test_a_failed_owner_lookup_sent_nothing_and_keeps_everything() -> None:
    records, t = batch()
    assert book(Attempt(records, t, None, letters_sent=False), now_s=NOW) == Booked(kept=records)


def test_a_dropped_batch_is_finished_and_counts_every_event_it_did_not_deliver() -> None:
    records, t = batch()
    booked = book(Attempt(records, t, None, dropped="breaker_open"), now_s=NOW)
    assert booked.finished == records
    assert booked.report is not None
    assert booked.report.dropped_by_reason == {"breaker_open": 4}  # 3 deliveries, 1 unroutable
    assert booked.report.dead_lettered == 1


@given(
    published=st.booleans(),
    letters_sent=st.booleans(),
    letters_failed=st.booleans(),
    dropped=st.sampled_from([None, "redis_unavailable"]),
)
def test_every_record_is_either_finished_or_kept_once(
    published: bool, letters_sent: bool, letters_failed: bool, dropped: str | None
) -> None:
    records, t = batch()
    results = [ok(), ok(), ok()] if published and dropped is None else None
    attempt = Attempt(records, t, results, letters_sent, letters_failed and letters_sent, dropped)
    booked = book(attempt, now_s=NOW)
    assert sorted(r.offset for r in [*booked.finished, *booked.kept]) == list(range(6))
    assert (booked.report is None) == (not booked.finished)
    if booked.report is not None:
        assert booked.report.consumed == len(booked.finished)


def test_a_fetched_batch_says_where_its_time_went_and_a_retry_does_not() -> None:
    records, t = batch()
    stamped = [Record(P, r.offset, None, b"{}", (), int((NOW - 0.010) * 1000)) for r in records]
    t.deliver = [(stamped[i], m) for i, (_, m) in zip((0, 2, 3), t.deliver, strict=True)]
    results = [ok(), ok(), ok()]
    fetched = Attempt(stamped, t, results, fetched_s=NOW - 0.004, acked_s=NOW - 0.001)
    report = book(fetched, now_s=NOW).report
    assert report is not None
    assert report.fetched_after_seconds == pytest.approx([0.006] * 6, abs=1e-6)  # CreateTime
    assert report.acked_after_fetch_seconds == pytest.approx(0.003, abs=1e-6)
    assert report.end_to_end_seconds[0] == pytest.approx(-0.001, abs=1e-6)  # to the ack, not now
    retried = book(Attempt(stamped, t, results, acked_s=NOW), now_s=NOW).report
    assert retried is not None
    assert retried.fetched_after_seconds == []
    assert retried.acked_after_fetch_seconds is None
