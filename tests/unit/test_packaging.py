"""The wheel is the product: only src's packages, and each part runs on what it declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PRODUCT = ("domain", "application", "adapters", "eventbridge")


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """The distributions `names` install, theirs included (as installed here)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def _imported(package: Path) -> set[str]:
    """The top-level modules the package's files import (at any depth of the file)."""
    out: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out.add(node.module.split(".")[0])
    return out


def _third_party(modules: set[str]) -> dict[str, set[str]]:
    """Module -> the distributions that provide it, for modules outside the stdlib and ours."""
    provided = metadata.packages_distributions()
    ours = {*PRODUCT, "simulator", "bench", "tests"}
    return {
        m: {_name(d) for d in provided.get(m, [m])}
        for m in modules - ours - set(sys.stdlib_module_names) - {"__future__"}
    }


def test_the_wheel_holds_the_products_packages_and_nothing_else() -> None:
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [f"src/{p}" for p in PRODUCT]


def test_the_product_runs_on_its_runtime_dependencies_alone() -> None:
    runtime = _closure({_name(r) for r in PYPROJECT["project"]["dependencies"]})
    for package in PRODUCT:
        for module, dists in _third_party(_imported(ROOT / "src" / package)).items():
            assert dists & runtime, f"{package} imports {module}, not a runtime dependency"


def test_the_simulator_runs_on_the_sim_extra_and_tools_for_it_stay_out_of_the_product() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    sim = {_name(r) for r in extras["sim"]}
    runtime = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert not sim & runtime
    assert "eventbridge[sim]" in extras["dev"]
    installed = _closure(runtime | sim)
    for module, dists in _third_party(_imported(ROOT / "simulator")).items():
        assert dists & installed, f"the simulator imports {module}, not in [sim]"
