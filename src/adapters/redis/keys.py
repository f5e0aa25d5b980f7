"""Key and channel names of the Redis contract, with a Cluster hash tag per user and session."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Builds every name in docs/redis-contract.md from the configured prefixes."""

    sse_prefix: str = "sse:user:"
    session_prefix: str = "sse:session:"
    ticket_prefix: str = "sse:ticket:"

    def stream(self, user_id: str) -> str:
        return f"{self.sse_prefix}{{{user_id}}}:stream"

    def ids(self, user_id: str) -> str:
        return f"{self.sse_prefix}{{{user_id}}}:ids"

    def notify(self, user_id: str) -> str:
        return f"{self.sse_prefix}{{{user_id}}}:notify"

    def conns(self, user_id: str) -> str:
        return f"{self.sse_prefix}{{{user_id}}}:conns"

    def owner(self, session_id: str) -> str:
        return f"{self.session_prefix}{{{session_id}}}:owner"

    def ticket(self, ticket: str) -> str:
        return f"{self.ticket_prefix}{ticket}"

    def user_of_channel(self, channel: str) -> str | None:
        """The user id inside a notification channel name, or None if it is not one of ours."""
        head = f"{self.sse_prefix}{{"
        if channel.startswith(head) and channel.endswith("}:notify"):
            return channel[len(head) : -len("}:notify")]
        return None
