"""Envelope → SSE message (SPEC §6): compact JSON data, serialised once, never truncated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.model import Envelope, SseMessage
from domain.reasons import Reason, Rejection
from domain.render import described
from domain.tracecontext import TraceParent

DEFAULT_MAX_DATA_BYTES = 65_536


class SseMapper:
    """Builds the browser's view of an event and routes it to exactly one user."""

    def __init__(
        self, *, max_data_bytes: int = DEFAULT_MAX_DATA_BYTES, dumps: Callable[[Any], bytes]
    ) -> None:
        if max_data_bytes <= 0:
            raise ValueError(f"max_data_bytes must be > 0, got {max_data_bytes!r}")
        self._max = max_data_bytes
        self._dumps = dumps

    def to_message(
        self, env: Envelope, traceparent: TraceParent | None = None
    ) -> SseMessage | Rejection:
        """`data` always carries event_id, event_type, session_id, correlation_id (null when
        absent) and timestamp; novel_id when present; trace_id when the envelope names one,
        else when the record carried a `traceparent` (its trace id); then the business
        payload. Data over the cap makes the event invalid: it is never cut. A sampled
        traceparent travels with the message unchanged (the stream entry's `tp`, SPEC §9)."""
        if env.user_id is None:
            return Rejection(Reason.NO_USER, "envelope has no user id to route to")
        data: dict[str, Any] = {
            "event_id": env.event_id,
            "event_type": env.event_type,
            "session_id": env.session_id,
            "correlation_id": env.correlation_id,
            "timestamp": env.timestamp,
        }
        if env.novel_id is not None:
            data["novel_id"] = env.novel_id
        if env.trace_id is not None:
            data["trace_id"] = env.trace_id
        elif traceparent is not None:
            data["trace_id"] = traceparent.trace_id
        data["payload"] = env.payload
        try:
            body = self._dumps(data)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            # e.g. an integer beyond 64 bits, which orjson refuses: the event cannot be shown.
            return Rejection(
                Reason.WRONG_TYPE, f"payload cannot be serialised as JSON: {described(exc)}"
            )
        if len(body) > self._max:
            return Rejection(
                Reason.OVERSIZED,
                f"SSE data is {len(body)} bytes, over the {self._max}-byte cap",
            )
        # Positional, in the field order of SseMessage (one per delivered event: keywords
        # cost twice as much). An id learned from the owner index must not re-teach (and so
        # re-extend) it; the traceparent travels only when its trace is sampled.
        return SseMessage(
            env.user_id,
            env.session_id,
            env.event_id,
            env.event_type,
            body,
            not env.user_id_from_owner,
            env.timestamp_s,
            traceparent.text if traceparent is not None and traceparent.sampled else "",
        )
