"""A tiny SSE client over httpx streaming, reading a real uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from simulator.load_sse import Frame, read_frame

__all__ = ["Frame", "SseStream", "open_stream"]


class SseStream:
    """Frames of one open response, each awaited with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.ended = False
        self.broken = False  # the server cut the body off mid-chunk

    async def next(self, within: float = 10.0) -> Frame:
        """The next frame; raises EOFError when the server ended the stream."""
        try:
            async with asyncio.timeout(within):
                return await read_frame(self._lines)
        except EOFError:
            self.ended = True
            raise

    async def messages(self, n: int, within: float = 10.0) -> list[Frame]:
        """The next `n` frames that carry data (heartbeats and comments skipped)."""
        out: list[Frame] = []
        async with asyncio.timeout(within):
            while len(out) < n:
                frame = await self.next(within)
                if frame.data:
                    out.append(frame)
        return out

    async def until_end(self, within: float = 10.0) -> list[Frame]:
        """Every data frame until the server ends (or cuts off) the stream."""
        out: list[Frame] = []
        async with asyncio.timeout(within):
            while True:
                try:
                    frame = await self.next(within)
                except EOFError:
                    return out
                except httpx.RemoteProtocolError:
                    self.broken = True
                    return out
                if frame.data:
                    out.append(frame)


@asynccontextmanager
async def open_stream(
    base_url: str,
    *,
    token: str | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    expect: int = 200,
) -> AsyncIterator[SseStream]:
    """GET /v1/events as a stream; asserts the status before yielding."""
    sent = dict(headers or {})
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    timeout = httpx.Timeout(10.0, read=None)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", "/v1/events", params=params, headers=sent) as response,
    ):
        if response.status_code != expect:
            await response.aread()
            raise AssertionError(f"status {response.status_code}: {response.text}")
        yield SseStream(response)
