"""Contract suites run twice: over the fake (a unit test) and over the real adapter (integration).

A suite's fixture is parametrised with ids "fake" and "real"; only the real one asks for
`real_services`, so the fake half runs without Kafka or Redis.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/contracts" not in str(item.path):
            continue
        callspec = getattr(item, "callspec", None)
        real = callspec is not None and "real" in callspec.id.split("-")
        item.add_marker(pytest.mark.integration if real else pytest.mark.unit)
