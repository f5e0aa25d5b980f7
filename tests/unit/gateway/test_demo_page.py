"""The demo page runs on the client module and names every event type the simulator delivers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulator.genesis import generate_n

pytestmark = pytest.mark.unit

GATEWAY = Path(__file__).resolve().parents[3] / "src" / "adapters" / "gateway"


def test_the_demo_page_imports_the_client_module_instead_of_its_own_copy() -> None:
    page = (GATEWAY / "static" / "demo.html").read_text(encoding="utf-8")
    assert 'import { connect } from "{{CLIENT_URL}}";' in page
    assert "EventSource" not in page.replace("EventSource hands", "")
    assert "/v1/sse-tickets" not in page


def test_the_demo_page_listens_for_every_type_the_simulator_delivers() -> None:
    page = (GATEWAY / "static" / "demo.html").read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="event-types">(.*?)<', page, re.S)
    assert block is not None
    known = json.loads(block[1])
    listened = {f"Genesis.Session.{s}.{v}" for s in known["subjects"] for v in known["verbs"]}
    listened |= {f"Genesis.Session.{t}" for t in known["single"]}
    records = generate_n(5000, seed=3, users=10, bad_ratio=0.0)
    delivered = {str(r.expect.event_type) for r in records if r.expect.outcome == "delivered"}
    assert len(delivered) >= 20
    assert delivered <= listened
