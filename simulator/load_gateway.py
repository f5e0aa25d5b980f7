"""`python -m simulator.load_gateway gateway|run`: the gateway runtimes until the CLI has them.

The `eventbridge` CLI gains `gateway` and `run` in its own change; until then the simulator
starts the same runtimes (`eventbridge.gateway_runtime`) with the same settings and signals.
"""

from __future__ import annotations

import asyncio
import sys

from eventbridge.cli import install_stop_signals
from eventbridge.logs import configure_logging
from eventbridge.settings import SettingsError, load_settings


async def _serve(command: str) -> None:
    from eventbridge.gateway_runtime import run_all, run_gateway  # noqa: PLC0415

    settings = load_settings()
    configure_logging(
        level=settings.metrics.log_level,
        json=settings.metrics.log_json,
        service=settings.metrics.service_name,
    )
    stop = asyncio.Event()
    install_stop_signals(stop)
    await (run_all if command == "run" else run_gateway)(settings, stop)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("gateway", "run"):
        print("usage: python -m simulator.load_gateway gateway|run", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(argv[0]))
    except SettingsError as exc:
        print(f"eventbridge: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
