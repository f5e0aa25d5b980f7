"""The topology tier: multi-node Redis and Kafka, and a load balancer, as real processes."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/topology" in str(item.path):
            item.add_marker(pytest.mark.topology)
