"""A small SSE client over httpx streaming: frames, and a browser-like follower that resumes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import jwt
import orjson

from simulator.local_nginx import answered_by


def mint_token(secret: str, user: str, *, ttl_s: float = 3600.0) -> str:
    """An HS256 JWT for `user` (claim `sub`), as the platform's login would issue."""
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + int(ttl_s)}, secret, "HS256")


@dataclass
class Frame:
    """One SSE block: a message (`id`/`event`/`data`), a `retry:`, or comments only."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.data)

    def json(self) -> dict[str, object]:
        value = orjson.loads(self.text)
        return value if isinstance(value, dict) else {}


async def read_frame(lines: AsyncIterator[str]) -> Frame:
    """The next SSE block from a response's lines; EOFError when the lines end."""
    frame = Frame()
    while True:
        try:
            line = await anext(lines)
        except StopAsyncIteration:
            raise EOFError("the stream ended") from None
        if line == "":
            if frame.data or frame.comments or frame.retry is not None:
                return frame
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            frame.comments.append(value)
        elif name == "id":
            frame.id = value
        elif name == "event":
            frame.event = value
        elif name == "data":
            frame.data.append(value)
        elif name == "retry":
            frame.retry = int(value)


class Frames(Protocol):
    """Where a follower reads its frames from (an `SseStream`)."""

    async def next(self, within_s: float | None = None) -> Frame: ...


class SseStream:
    """The frames of one open `GET /v1/events` response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, within_s: float | None = None) -> Frame:
        """The next frame; EOFError when the server ended the stream."""
        async with asyncio.timeout(within_s):
            return await read_frame(self._lines)

    async def messages(self, n: int, within_s: float = 10.0) -> list[Frame]:
        """The next `n` frames that carry data (heartbeats and `retry:` skipped)."""
        out: list[Frame] = []
        async with asyncio.timeout(within_s):
            while len(out) < n:
                frame = await self.next()
                if frame.data:
                    out.append(frame)
        return out


@asynccontextmanager
async def open_events(
    base_url: str,
    token: str,
    *,
    last_event_id: str | None = None,
    history: int = 0,
    client: httpx.AsyncClient | None = None,
) -> AsyncIterator[tuple[int, dict[str, str], SseStream]]:
    """`GET /v1/events` as a browser would; yields (status, headers, stream)."""
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    params = {"history": str(history)} if history else None
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            timeout = httpx.Timeout(10.0, read=None)
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        response = await stack.enter_async_context(
            client.stream("GET", f"{base_url}/v1/events", params=params, headers=headers)
        )
        if response.status_code != 200:
            await response.aread()
        yield response.status_code, dict(response.headers), SseStream(response)


@dataclass
class Receipt:
    """One event as a browser received it."""

    event_id: str
    session_id: str
    stream_id: str
    at: float  # wall-clock seconds at receipt


@dataclass
class Follower:
    """One user's browser: stays connected, resumes with Last-Event-ID after any drop."""

    base_url: str
    user: str
    token: str
    received: list[Receipt] = field(default_factory=list)
    connects: int = 0
    resets: int = 0
    refused: int = 0
    last_id: str | None = None
    upstream: str | None = None  # the gateway behind the balancer serving the open stream
    on_receipt: Callable[[Receipt], None] | None = None

    async def run(self, stop: asyncio.Event, client: httpx.AsyncClient) -> None:
        """Follow until `stop`; every drop (server end, error, refusal) is followed by a retry."""
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError, OSError, EOFError):
                await self._once(stop, client)
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.25):  # a browser's reconnect delay
                        await stop.wait()

    async def _once(self, stop: asyncio.Event, client: httpx.AsyncClient) -> None:
        async with open_events(
            self.base_url, self.token, last_event_id=self.last_id, client=client
        ) as (status, headers, stream):
            if status != 200:
                self.refused += 1
                return
            self.connects += 1
            self.upstream = answered_by(headers)
            try:
                await self.follow(stream, stop)
            finally:
                self.upstream = None

    async def follow(self, stream: Frames, stop: asyncio.Event) -> None:
        """Take every frame of `stream` until `stop` is set (then return) or the stream ends
        or fails (then raise, for `run` to resume after).

        One reading task for the whole stream, not one per frame: a frame is stamped in the
        loop turn that read it, not turns later behind a new task and a wait for it."""
        reading = asyncio.ensure_future(self._read(stream))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, stopping):
                task.cancel()
            await asyncio.gather(reading, stopping, return_exceptions=True)
        if not reading.cancelled():
            reading.result()

    async def _read(self, stream: Frames) -> None:
        while True:
            self._take(await stream.next())

    def _take(self, frame: Frame) -> None:
        if frame.event == "reset":
            self.resets += 1
            return
        if frame.event == "closing":  # the gateway's last frame: not an event; its id a position
            self.last_id = frame.id or self.last_id
            return
        if not frame.data or frame.id is None:
            return
        data = frame.json()
        receipt = Receipt(
            str(data.get("event_id")), str(data.get("session_id")), frame.id, time.time()
        )
        self.last_id = frame.id
        self.received.append(receipt)
        if self.on_receipt is not None:
            self.on_receipt(receipt)
