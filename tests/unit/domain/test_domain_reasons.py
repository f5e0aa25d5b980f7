"""Reason codes and their verdicts."""

from __future__ import annotations

import pytest

from domain.reasons import VERDICT_OF, Reason, Rejection, Verdict

pytestmark = pytest.mark.unit


def test_only_unwanted_event_types_are_ignored() -> None:
    ignored = {reason for reason, verdict in VERDICT_OF.items() if verdict is Verdict.IGNORED}
    assert ignored == {Reason.NOT_SESSION_EVENT, Reason.NOT_WHITELISTED}


def test_every_reason_has_a_verdict() -> None:
    assert set(VERDICT_OF) == set(Reason)


def test_rejection_verdict_follows_its_reason() -> None:
    assert Rejection(Reason.NOT_WHITELISTED, "x").verdict is Verdict.IGNORED
    assert Rejection(Reason.OVERSIZED, "x").verdict is Verdict.INVALID


def test_reason_codes_are_stable_strings() -> None:
    assert Reason.NO_USER.value == "no_user"
    assert Reason.INVALID_UTF8.value == "invalid_utf8"
    assert f"{Verdict.IGNORED}" == "ignored"
