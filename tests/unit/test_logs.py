"""The entrypoint's log handler: one JSON object per line, on whatever stderr is at the time."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from eventbridge.logs import configure_logging

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_line_goes_to_the_stderr_of_the_moment_even_after_the_first_one_was_closed(
    root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure_logging(level="INFO", json=True, service="test")
    first.close()  # what pytest's capture does to its file at the end of a test
    second = io.StringIO()
    monkeypatch.setattr("sys.stderr", second)

    logging.getLogger("eventbridge.test").warning("after", extra={"partition": 3})

    [line] = second.getvalue().splitlines()
    entry = orjson.loads(line)
    assert (entry["message"], entry["partition"], entry["service"]) == ("after", 3, "test")
