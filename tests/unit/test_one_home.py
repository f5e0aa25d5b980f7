"""One setting, one home: `filter.max_record_bytes` is what the container's bridge enforces."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from application.policy import BridgePolicy
from domain.model import Partition, Record
from eventbridge.container import Application
from eventbridge.settings import EventBridgeSettings

pytestmark = pytest.mark.unit


def test_the_record_size_cap_is_the_filter_settings_and_only_theirs() -> None:
    settings = EventBridgeSettings(filter={"max_record_bytes": 2048}, auth={"secret": "s" * 32})  # type: ignore[arg-type]
    triager = Application(settings=settings).bridge.triager()
    records = [
        Record(Partition("t", 0), i, None, b'{"x":"%s"}' % (b"a" * n))
        for i, n in enumerate((2000, 2100))
    ]
    triage = triager.triage(triager.decode(records), now=datetime.now(UTC))
    assert [(letter.record.offset, letter.code) for letter in triage.letters] == [
        (0, "missing_field"),
        (1, "oversized"),
    ]
    assert "max_record_bytes" not in {f.name for f in fields(BridgePolicy)}
