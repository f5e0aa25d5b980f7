"""docs/browser.md's shell examples, run as written with curl against a real gateway."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest

from simulator.load_sse import Frame, read_frame
from simulator.services import Services
from tests.doc_examples import example
from tests.integration.gateway.harness import GatewayHarness

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


async def _frames(text: str) -> list[Frame]:
    """The SSE frames of a whole response body, read as the load tools read a live stream."""

    async def lines() -> AsyncIterator[str]:
        for line in text.split("\n"):
            yield line

    source, frames = lines(), []
    while True:
        try:
            frames.append(await read_frame(source))
        except EOFError:
            return frames


async def _run(script: str, gw: GatewayHarness, token: str) -> str:
    env = {**os.environ, "BASE": gw.base_url, "TOKEN": token}
    proc = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, env=env, stdout=subprocess.PIPE
    )
    async with asyncio.timeout(20):  # the stream ends by itself at the token's expiry
        out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


@pytest.mark.parametrize("name", ["bearer", "ticket"])
def test_a_shell_example_reads_history_then_ends_with_closing_at_token_expiry(
    real_services: Services, unique: str, name: str
) -> None:
    gw = GatewayHarness(real_services, unique)

    async def scenario() -> None:
        async with gw.serve():
            ids = await gw.publish("u1", 3)
            # 6 s: the ticket example's exchange and connect must fit before the expiry even
            # on a loaded machine (2 s did not once in a soak: the token was already expired).
            out = await _run(example(name), gw, gw.token("u1", ttl_s=6))
        frames = await _frames(out)
        assert frames[0].retry == 3000
        assert [(f.id, f.event) for f in frames[1:3]] == [
            (ids[1], "Genesis.Session.Theme.Proposed"),
            (ids[2], "Genesis.Session.Theme.Proposed"),
        ]
        assert frames[1].json()["event_type"] == "Genesis.Session.Theme.Proposed"
        assert (frames[-1].event, frames[-1].json(), frames[-1].id) == (
            "closing",
            {"reason": "token_expired"},
            ids[2],
        )
        assert len(frames) == 4

    asyncio.run(scenario())
