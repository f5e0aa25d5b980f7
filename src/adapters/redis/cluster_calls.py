"""One script call per key, pipelined through the Cluster client: each goes to its slot's node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import exceptions as rx


async def per_key(
    client: Any, script: Any, calls: Sequence[tuple[str, Sequence[Any]]]
) -> list[Any]:
    """The replies of `script` (a registered script: `.sha`, `.script`) run once per (key,
    args) in one Cluster pipeline. A call's keys must share a slot, so one call per key; the
    Cluster pipeline costs Python per command, so one command (EVALSHA) where a pair of plain
    commands would be two. A node that never ran the script (new, restarted, promoted) answers
    NOSCRIPT: it is loaded on every master and the pipeline sent again, once. Any other error
    is raised (the caller translates it)."""
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        for key, args in calls:
            pipe.execute_command("EVALSHA", script.sha, 1, key, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        if attempt == 1 and any(isinstance(r, rx.NoScriptError) for r in replies):
            await client.script_load(script.script)
            continue
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies
    raise AssertionError("unreachable")
