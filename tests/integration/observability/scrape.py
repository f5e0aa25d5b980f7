"""Scraping a running bridge's HTTP port, and the metric names a Grafana dashboard uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"
_METRIC = re.compile(r"\beventbridge_[a-z0-9_]+")


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5.0) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def metrics_text(port: int) -> str:
    response = await get(port, "/metrics")
    response.raise_for_status()
    return response.text


async def ready(port: int) -> tuple[int, dict[str, Any]]:
    response = await get(port, "/readyz")
    return response.status_code, response.json()


def dashboard_metrics(path: Path = DASHBOARD) -> dict[str, set[str]]:
    """{panel title: metric names its queries use}."""
    board = json.loads(path.read_text())
    return {
        panel["title"]: {m for t in panel["targets"] for m in _METRIC.findall(t["expr"])}
        for panel in board["panels"]
    }
