"""Dead letters of one source record share a root, through crashes and replays alike."""

from __future__ import annotations

import pytest

from adapters.kafka.dead_letter_log import StoredLetter, replay_refusal
from adapters.kafka.stored_letter import HEADER_REPLAYED_FROM
from eventbridge.dlq import newest_per_root
from eventbridge.dlq_lineage import roots, shown

pytestmark = pytest.mark.unit

DLQ = "t.dlq"


def letter(
    offset: int,
    source: tuple[str, int, int] | None,
    *,
    replayed_from: int | str | None = None,
    time: str = "",
    reason: str = "no_user",
    **extra: bytes,
) -> StoredLetter:
    headers: list[tuple[str, bytes | None]] = [(k.replace("_", "."), v) for k, v in extra.items()]
    if replayed_from is not None:
        parent = replayed_from if isinstance(replayed_from, str) else f"{DLQ}/0/{replayed_from}"
        headers.append((HEADER_REPLAYED_FROM, parent.encode()))
    headers.append(("dlq.reason", reason.encode()))
    if source is not None:
        topic, partition, at = source
        headers += [
            ("dlq.source.topic", topic.encode()),
            ("dlq.source.partition", str(partition).encode()),
            ("dlq.source.offset", str(at).encode()),
        ]
    headers.append(("dlq.time", (time or f"2026-01-01T00:00:{offset:02d}+00:00").encode()))
    return StoredLetter(DLQ, 0, offset, b"k", b"v", tuple(headers))


def test_a_record_replayed_again_and_again_is_one_root_by_its_newest_letter() -> None:
    letters = [
        letter(0, ("t", 0, 7)),  # dead-lettered
        letter(1, ("t", 0, 7)),  # again: the bridge crashed before its commit
        letter(2, ("t", 0, 20), replayed_from=1),  # replayed, still invalid
        letter(3, ("t", 1, 4)),  # another record
        letter(4, ("t", 0, 31), replayed_from=2, reason="invalid_json"),  # and again
    ]
    rooted = roots(letters)
    assert {rooted[f"{DLQ}/0/{n}"] for n in (0, 1, 2, 4)} == {("source", "t", "0", "7")}
    groups = newest_per_root(letters)
    assert [(shown(g.root), g.newest.offset, g.letters) for g in groups] == [
        ("t/1/4", 3, 1),
        ("t/0/7", 4, 4),
    ]
    assert groups[1].newest.reason == "invalid_json"  # the latest verdict stands for it


def test_a_lineage_whose_first_letter_expired_still_shares_one_root() -> None:
    # Letter 0 is gone (retention): 2 and 3 both go back to it.
    letters = [letter(2, ("t", 0, 20), replayed_from=0), letter(3, ("t", 0, 21), replayed_from=2)]
    assert set(roots(letters).values()) == {("replayed_from", f"{DLQ}/0/0")}
    assert len(newest_per_root(letters)) == 1


def test_letters_no_bridge_wrote_and_forged_loops_resolve_without_hanging() -> None:
    letters = [
        letter(0, None),
        letter(1, None),
        letter(5, ("t", 0, 1), replayed_from=6),
        letter(6, ("t", 0, 2), replayed_from=5),
        letter(7, ("t", 0, 3), replayed_from=7),
    ]
    rooted = roots(letters)
    assert rooted[f"{DLQ}/0/0"] != rooted[f"{DLQ}/0/1"]  # each foreign letter is its own
    assert rooted[f"{DLQ}/0/5"] == rooted[f"{DLQ}/0/6"] == ("cycle", f"{DLQ}/0/5")
    assert rooted[f"{DLQ}/0/7"] == ("cycle", f"{DLQ}/0/7")


def test_only_a_letter_of_this_topic_holding_its_original_record_may_be_replayed() -> None:
    assert replay_refusal(letter(0, ("t", 0, 7)), "t") is None
    assert "not from kafka.topic" in (replay_refusal(letter(0, ("payments", 0, 7)), "t") or "")
    assert "names no source" in (replay_refusal(letter(0, None), "t") or "")
    truncated = letter(0, ("t", 0, 7), dlq_truncated=b"true")
    assert "truncated" in (replay_refusal(truncated, "t") or "")
    unreadable = StoredLetter(DLQ, 0, 1, None, b"x", (), unreadable="a header name is not UTF-8")
    assert "by hand" in (replay_refusal(unreadable, "t") or "")
