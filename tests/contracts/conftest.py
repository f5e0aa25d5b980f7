"""Contract suites run twice: over the fake (a unit test) and over the real adapter (integration).

A suite's fixture is parametrised with ids "fake" and "real" (and "real-cluster": the topology
tier's Redis Cluster); only the real ones ask for `real_services`, so the fake half runs without
Kafka or Redis.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/contracts" not in str(item.path):
            continue
        callspec = getattr(item, "callspec", None)
        parts = callspec.id.split("-") if callspec is not None else []
        item.add_marker(pytest.mark.integration if "real" in parts else pytest.mark.unit)
        if "cluster" in parts:  # asks for the local Redis Cluster fixture by name, at run time
            item.add_marker(pytest.mark.topology)
