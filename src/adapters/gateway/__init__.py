"""The SSE gateway: an ASGI app serving per-user Redis streams to browsers."""
