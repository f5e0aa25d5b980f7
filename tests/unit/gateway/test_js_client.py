"""The browser client package: no dependencies, its types cover its exports, its tests pass."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[3]
CLIENT = ROOT / "clients" / "js"


def _package() -> dict[str, object]:
    value = json.loads((CLIENT / "package.json").read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def test_the_package_has_no_dependencies_and_names_its_module_and_types() -> None:
    package = _package()
    assert package["type"] == "module"
    assert not {"dependencies", "peerDependencies", "optionalDependencies"} & set(package)
    assert package["exports"] == {
        ".": {"types": "./eventbridge-client.d.ts", "default": "./eventbridge-client.js"}
    }
    assert package["types"] == "./eventbridge-client.d.ts"
    for name in package["files"]:  # type: ignore[attr-defined]
        assert (CLIENT / name).is_file(), name
    # A module with no dependencies imports nothing at all.
    assert not re.search(r"^\s*import\b", script_text(), re.M)


def script_text() -> str:
    return (CLIENT / "eventbridge-client.js").read_text(encoding="utf-8")


def test_every_export_of_the_module_is_declared_in_its_types() -> None:
    exported = set(re.findall(r"^export (?:async )?(?:function|const) (\w+)", script_text(), re.M))
    declared = (CLIENT / "eventbridge-client.d.ts").read_text(encoding="utf-8")
    assert exported == {
        "VERSION",
        "RESERVED_EVENTS",
        "backoffDelay",
        "parseRetryAfter",
        "ticketUrl",
        "eventsUrl",
        "connect",
    }
    for name in exported:
        assert re.search(rf"export declare (?:function|const) {name}\b", declared), name


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_clients_own_tests_pass_under_nodes_test_runner() -> None:
    result = subprocess.run(
        ["node", "--test", "test/"],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M)
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.M)
    assert passed is not None
    assert int(passed[1]) >= 20
