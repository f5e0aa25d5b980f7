"""Shared fixtures: one real Kafka and one real Redis per test session, started on demand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from simulator.services import Services, services


@pytest.fixture(scope="session")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Kafka and Redis from the environment, Docker, or local processes (SPEC §11)."""
    with services(tmp_path_factory.mktemp("services")) as provided:
        yield provided


@pytest.fixture
def unique() -> str:
    """A short unique name for this test's topics, groups and Redis key prefixes."""
    return uuid.uuid4().hex[:10]
