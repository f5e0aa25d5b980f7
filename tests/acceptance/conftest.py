"""Acceptance scenarios: one world per scenario, fakes by default, real processes for @e2e."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.fake_world import FakeWorld
from tests.acceptance.real_world import RealWorld
from tests.acceptance.steps_browser import *  # noqa: F403 - step definitions are fixtures
from tests.acceptance.steps_outage import *  # noqa: F403
from tests.acceptance.steps_outcomes import *  # noqa: F403
from tests.acceptance.steps_traffic import *  # noqa: F403
from tests.acceptance.world import World

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: the scenario needs a browser on the real gateway (real world only)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """An @e2e scenario runs twice: over the fakes (fast, every run) and on real processes."""
    if HERE not in metafunc.definition.path.parents:
        return
    marks = {m.name for m in metafunc.definition.iter_markers()}
    if "e2e" in marks:
        metafunc.parametrize("world_kind", ["real"] if "browser" in marks else ["fake", "real"])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.acceptance)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("world_kind") == "fake":
            # The over-the-fakes twin of an @e2e scenario is an ordinary acceptance test.
            item.own_markers[:] = [m for m in item.own_markers if m.name != "e2e"]
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.timeout(240))
        else:
            item.add_marker(pytest.mark.timeout(20))


@pytest.fixture(autouse=True)
def world_kind() -> str:
    """Which world a scenario runs in; @e2e scenarios are parametrized over both."""
    return "fake"


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path, world_kind: str) -> Iterator[World]:
    """The scenario's world; its asyncio.Runner drives every async call of the steps."""
    with asyncio.Runner() as runner:
        built: World
        if world_kind == "real":
            built = RealWorld(
                runner=runner,
                services=request.getfixturevalue("real_services"),
                unique=uuid.uuid4().hex[:10],
                tmp=tmp_path,
            )
        else:
            built = FakeWorld(runner=runner)
        try:
            yield built
        finally:
            built.close()
