"""SseResponse: the ASGI response of `GET /v1/events`, writing one connection's frames."""

from __future__ import annotations

import asyncio

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from adapters.gateway.sse import render
from application.gateway.connection import Connection
from application.gateway.outbox import Frame

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]


class SseResponse(Response):
    """Renders and sends what the connection hands over (application.gateway.connection
    decides what, when, and when the stream ends); a client that disconnects closes it."""

    def __init__(self, conn: Connection) -> None:
        # Not Response.__init__: this response writes its own start and body frames.
        self.status_code = 200
        self.background = None
        self._conn = conn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})

        async def write(frames: list[Frame]) -> None:
            await send({"type": "http.response.body", "body": render(frames), "more_body": True})

        async def end() -> None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        watcher = asyncio.create_task(self._watch(receive))
        try:
            await self._conn.serve(write, end)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._conn.close("client")
                return
