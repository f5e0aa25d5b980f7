"""The examples of docs/browser.md, by name: the tests run exactly what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "browser.md"
# A fenced block whose info string names it: ```js example=client
_BLOCK = re.compile(r"^```(\w+) example=([\w-]+)\n(.*?)^```$", re.M | re.S)


def examples() -> dict[str, tuple[str, str]]:
    """name → (language, code) of every named example in the doc."""
    found: dict[str, tuple[str, str]] = {}
    for lang, name, code in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        assert name not in found, f"two examples are named {name!r}"
        found[name] = (lang, code)
    return found


def example(name: str) -> str:
    return examples()[name][1]
