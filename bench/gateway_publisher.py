"""The gateway benchmark's writer: events at a steady rate, through the bridge's own store.

Run as a script by the interpreter of the gateway under test (`python bench/gateway_publisher.py
...`), so each checkout's gateway is fed by its own checkout's publish script and notification.
It uses only what every checkout has (RedisSettings, make_client, RedisStreamStore,
SseMessage), and prints the number of events written as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, datetime

import orjson

from adapters.redis.client import make_client
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from domain.model import SseMessage

EVENT_TYPE = "Genesis.Session.Bench"


def message(user: str) -> SseMessage:
    """An event shaped like the mapper's (its `t` is the write time the client measures from)."""
    eid, now = str(uuid.uuid4()), time.time()
    data = {
        "event_id": eid,
        "event_type": EVENT_TYPE,
        "session_id": "s",
        "correlation_id": None,
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        "payload": {"t": now},
    }
    return SseMessage(user, "s", eid, EVENT_TYPE, orjson.dumps(data))


async def publish(args: argparse.Namespace) -> int:
    settings = RedisSettings(
        url=args.url,
        cluster=args.cluster,
        sse_prefix=args.prefix,
        session_prefix=args.prefix + "s:",
    )
    client = make_client(settings)
    store = RedisStreamStore(client=client, settings=settings)
    users = [f"u{i}" for i in range(args.users)]
    rng, tick, sent = random.Random(1), 0.01, 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < args.duration:
            due = int(elapsed * args.rate) - sent
            batch = [message(rng.choice(users)) for _ in range(max(due, 0))]
            if batch:
                await store.publish(batch)
                sent += len(batch)
            await asyncio.sleep(tick)  # pacing the load itself
    finally:
        await client.aclose()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    print(asyncio.run(publish(parser.parse_args())), flush=True)


if __name__ == "__main__":
    main()
