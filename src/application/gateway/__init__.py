"""The SSE gateway's application: a service over ports, connections that follow streams."""
