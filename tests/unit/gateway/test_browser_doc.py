"""docs/browser.md keeps up with the code: every refusal, reset reason and data field it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.gateway.client_js import client_script
from domain.gateway.resume import ResetReason
from tests.doc_examples import DOC, example, examples

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[3] / "src"
GATEWAY = SRC / "adapters" / "gateway"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_refusal_the_gateway_can_send_is_in_the_error_table_and_nothing_else() -> None:
    app = (GATEWAY / "app.py").read_text(encoding="utf-8")
    auth = (GATEWAY / "auth.py").read_text(encoding="utf-8")
    tickets = (SRC / "application" / "gateway" / "tickets.py").read_text(encoding="utf-8")
    raised = re.findall(r'AuthError\(\s*"(\w+)"', app + auth + tickets)
    sent = {(401, "unauthorized", c) for c in raised}
    sent |= {
        (int(status), error, reason)
        for status, error, reason in re.findall(r'_error\(\s*(\d{3}),\s*"(\w+)",\s*"(\w+)"', app)
    }
    sent |= {(503, "unavailable", r) for r in re.findall(r'_unavailable\(\s*"(\w+)"', app)}
    sent |= {(400, "bad_request", p) for p in re.findall(r'BadRequest\(\s*"(\w+)"', app)}
    assert len(sent) >= 11
    rows = re.findall(r"^\| (\d{3}) \| `(\w+)` \| `(\w+)` \|", _doc(), re.M)
    table = {(int(status), error, reason) for status, error, reason in rows}
    assert table == sent


def test_every_reset_reason_is_explained() -> None:
    reasons = {str(reason) for reason in ResetReason}
    assert reasons == {"malformed", "expired", "trimmed", "unknown_id"}
    row = next(line for line in _doc().splitlines() if line.startswith("| `reason` |"))
    for reason in reasons:
        assert f"`{reason}`" in row, reason


def test_the_data_table_lists_exactly_the_fields_the_mapper_writes() -> None:
    mapper = (SRC / "domain" / "mapper.py").read_text(encoding="utf-8")
    written = set(re.findall(r'^\s+"(\w+)": env\.', mapper, re.M))
    written |= set(re.findall(r'data\["(\w+)"\] =', mapper))
    table = set(re.findall(r"^\| `(\w+)` \| (?:always|when present) \|", _doc(), re.M))
    assert table == written
    assert len(written) == 8


def test_the_examples_the_tests_run_are_all_there() -> None:
    found = examples()
    assert {name: lang for name, (lang, _) in found.items()} == {
        "client": "js",
        "cookie": "js",
        "bearer": "sh",
        "ticket": "sh",
    }


def test_the_readme_links_the_browser_guide_on_its_first_screen() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "(docs/browser.md)" in "\n".join(readme.splitlines()[:30])


def test_the_docs_import_the_module_at_the_url_the_gateway_serves_it() -> None:
    path = client_script().path
    assert f'from "{path}"' in example("client")
    root = DOC.parents[1]
    for doc in (DOC, root / "README.md", root / "clients" / "js" / "README.md"):
        named = re.findall(r"/v1/eventbridge-client-\d[\w.+-]*?\.js", doc.read_text("utf-8"))
        assert named, doc
        assert set(named) == {path}, doc
