"""The layering holds: domain and application never import an outer library, and the product
never imports the simulator or the benchmarks (import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": f"{tree / 'src'}:{tree}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def copy_of_project(tmp_path: Path) -> Path:
    tree = tmp_path / "project"
    for package in ("src", "simulator", "bench"):
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_real_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = lint(copy_of_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("layer", "library"), [("domain", "redis"), ("application", "aiokafka")])
def test_an_outer_library_imported_by_an_inner_layer_breaks_the_contract(
    tmp_path: Path, layer: str, library: str
) -> None:
    tree = copy_of_project(tmp_path)
    (tree / "src" / layer / "sneaky.py").write_text(f"import {library}\n")
    result = lint(tree)
    assert result.returncode != 0
    assert f"{layer}.sneaky -> {library}" in result.stdout


@pytest.mark.parametrize(("layer", "tool"), [("eventbridge", "simulator"), ("adapters", "bench")])
def test_the_product_importing_the_simulator_or_the_benchmarks_breaks_the_contract(
    tmp_path: Path, layer: str, tool: str
) -> None:
    tree = copy_of_project(tmp_path)
    (tree / "src" / layer / "sneaky.py").write_text(f"import {tool}\n")
    result = lint(tree)
    assert result.returncode != 0
    assert f"{layer}.sneaky -> {tool}" in result.stdout
