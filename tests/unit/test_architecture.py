"""The layering holds (import-linter): domain and application never import an outer library,
no package has an import circle among its modules, and the product never imports the simulator
or the benchmarks."""

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


@pytest.mark.parametrize(
    ("layer", "library"),
    [
        ("domain", "redis"),
        ("application", "aiokafka"),
        ("domain/gateway", "starlette"),
        ("domain/gateway", "redis"),
        ("application/gateway", "redis"),
        ("application/gateway", "starlette"),
    ],
)
def test_an_outer_library_imported_by_an_inner_layer_breaks_the_contract(
    tmp_path: Path, layer: str, library: str
) -> None:
    tree = copy_of_project(tmp_path)
    (tree / "src" / layer / "sneaky.py").write_text(f"import {library}\n")
    result = lint(tree)
    assert result.returncode != 0
    assert f"{layer.replace('/', '.')}.sneaky -> {library}" in result.stdout


@pytest.mark.parametrize(
    ("module", "back"),
    [
        # The circle issue 11 removed: the HTTP response reaching back into the routes.
        ("adapters/gateway/response.py", "adapters.gateway.app"),
        ("domain/gateway/stream_ids.py", "domain.gateway.resume"),
        ("application/gateway/connection.py", "application.gateway.service"),
    ],
)
def test_an_import_circle_breaks_the_contract(tmp_path: Path, module: str, back: str) -> None:
    tree = copy_of_project(tmp_path)
    path = tree / "src" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\nimport {back}  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert "No import circle" in result.stdout
    assert "BROKEN" in result.stdout


@pytest.mark.parametrize(("layer", "tool"), [("eventbridge", "simulator"), ("adapters", "bench")])
def test_the_product_importing_the_simulator_or_the_benchmarks_breaks_the_contract(
    tmp_path: Path, layer: str, tool: str
) -> None:
    tree = copy_of_project(tmp_path)
    (tree / "src" / layer / "sneaky.py").write_text(f"import {tool}\n")
    result = lint(tree)
    assert result.returncode != 0
    assert f"{layer}.sneaky -> {tool}" in result.stdout


MAX_MODULE_LINES = 300  # issue 11: no module of the product over 300 lines (aim at 200)


def test_no_module_of_the_product_is_over_300_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT / "src")): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "src").rglob("*.py")
    }
    assert len(sizes) > 50  # the tree was found
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert over == {}, f"split these modules: {over}"
