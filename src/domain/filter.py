"""The event filter (SPEC §4): ordered checks, first failure wins, never raises."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.checks import is_uuid, parse_timestamp, uuid_match
from domain.envelope import DEFAULT_MAX_RECORD_BYTES, build, decode
from domain.fields import Headers, RawEvent, typed_event
from domain.model import Envelope
from domain.reasons import Reason, Rejection, shown
from domain.users import SessionOwner, resolve_user

_P = r"Genesis\.Session\."
_SEGMENTS = r"[A-Za-z]+(?:\.[A-Za-z]+)*"  # the `*` of the whitelist: one or more segments
_ANY_SUFFIXES = (
    "Requested",
    "Generated",
    "Evaluated",
    "Proposed",
    "Confirmed",
    "Updated",
    "Revised",
    "Created",
)

DEFAULT_WHITELIST: tuple[str, ...] = (
    _P + "Started",
    _P + r"Command\.Received",
    *(rf"{_P}{_SEGMENTS}\.{suffix}" for suffix in _ANY_SUFFIXES),
    _P + "StageCompleted",
    _P + "Finished",
    _P + "Failed",
    _P + "BranchCreated",
)
_EARLIEST_YEAR = 2000
# Verdicts on event types remembered per filter: the whitelist is one alternation of regexes,
# matched for every event, and a deployment sees a few dozen types. The `*` of the whitelist
# matches unboundedly many, so past this many distinct ones a type is judged afresh each time.
MAX_REMEMBERED_TYPES = 1024
_UNSEEN = Rejection(Reason.INTERNAL_ERROR, "unseen")  # a sentinel, never returned


def _compile_whitelist(patterns: tuple[str, ...]) -> re.Pattern[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ValueError(f"whitelist pattern {pattern!r} is not a valid regex: {exc}") from exc
    if not patterns:
        return re.compile(r"(?!)")  # an empty whitelist lets nothing through
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


@dataclass(frozen=True)
class FilterPolicy:
    """What the filter lets through; built once from settings."""

    whitelist: tuple[str, ...] = DEFAULT_WHITELIST
    prefix: str = "Genesis.Session."
    max_future_skew_s: float = 300.0
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "whitelist", tuple(self.whitelist))
        _compile_whitelist(self.whitelist)
        if not self.prefix:
            raise ValueError("prefix must not be empty")
        if not (math.isfinite(self.max_future_skew_s) and self.max_future_skew_s >= 0):
            raise ValueError(
                f"max_future_skew_s must be a finite number >= 0, got {self.max_future_skew_s!r}"
            )
        if self.max_record_bytes <= 0:
            raise ValueError(f"max_record_bytes must be > 0, got {self.max_record_bytes!r}")


class EventFilter:
    """Decides, for one decoded event, accept (an Envelope) or a Rejection with its reason.

    `check` runs every check; the bridge runs it in its two halves, `screen` (everything that
    does not depend on who owns the event's session) and `admit` (the user id, then the rest),
    so that an event waiting for the owner index is extracted and screened only once.
    """

    def __init__(self, policy: FilterPolicy | None = None) -> None:
        self.policy = policy or FilterPolicy()
        self._whitelist = _compile_whitelist(self.policy.whitelist)
        self._prefix = self.policy.prefix
        self._skew = timedelta(seconds=self.policy.max_future_skew_s)
        self._max_record_bytes = self.policy.max_record_bytes
        self._types: dict[str, Rejection | None] = {}  # event type -> its verdict (None: ok)

    def decode(
        self, value: bytes | None, loads: Callable[[bytes], Any]
    ) -> dict[str, Any] | Rejection:
        """A record value is at most `max_record_bytes` of UTF-8 JSON holding one object."""
        return decode(value, loads, self._max_record_bytes)

    def check(
        self,
        obj: object,
        headers: Headers,
        *,
        now: datetime,
        session_owner: SessionOwner,
    ) -> Envelope | Rejection:
        """SPEC §4 in order: required fields → session event type → whitelist → user id →
        UUIDs → timestamp ISO-8601, from 2000 on, at most the skew ahead of `now` → accept."""
        raw = self.screen(obj, headers)
        if isinstance(raw, Rejection):
            return raw
        return self.admit(raw, resolve_user(raw, session_owner), now=now)

    def screen(self, obj: object, headers: Headers) -> RawEvent | Rejection:
        """The checks before the user id: required fields present and typed, an event type
        under the prefix, whitelisted."""
        typed = typed_event(obj, headers)
        if isinstance(typed, Rejection):
            return typed
        raw, event_type = typed
        if type(event_type) is not str:  # a str subclass could compare equal to anything
            verdict = self._type_verdict(event_type)
        elif (verdict := self._types.get(event_type, _UNSEEN)) is _UNSEEN:
            verdict = self._type_verdict(event_type)
            if len(self._types) < MAX_REMEMBERED_TYPES:
                self._types[event_type] = verdict
        return raw if verdict is None else verdict

    def _type_verdict(self, event_type: str) -> Rejection | None:
        """A (checked, printable) event type is under the prefix and whitelisted, or why not."""
        if not event_type.startswith(self._prefix):
            return Rejection(
                Reason.NOT_SESSION_EVENT,
                f"event_type {shown(event_type)} is not under {self._prefix!r}",
            )
        if self._whitelist.fullmatch(event_type) is None:
            return Rejection(
                Reason.NOT_WHITELISTED, f"event_type {shown(event_type)} is not whitelisted"
            )
        return None

    def admit(
        self, raw: RawEvent, user: tuple[str, bool] | Rejection, *, now: datetime
    ) -> Envelope | Rejection:
        """The checks from the user id on, for a screened event whose user is resolved
        (`domain.users.resolve_user`): then UUIDs, then the timestamp."""
        if isinstance(user, Rejection):
            return user
        correlation_id, novel_id, match = raw.correlation_id, raw.novel_id, uuid_match
        if not (  # the usual case in one expression; the loop below says which one is not
            match(raw.session_id)
            and match(raw.event_id)
            and match(raw.aggregate_id)
            and (correlation_id is None or match(correlation_id))
            and (novel_id is None or match(novel_id))
        ):
            ids = (
                (raw.session_id, raw.session_field),
                (raw.event_id, "event_id"),
                (raw.aggregate_id, "aggregate_id"),
                (correlation_id, raw.correlation_field),
                (novel_id, raw.novel_field),
            )
            for value, name in ids:
                if value is not None and not is_uuid(value):
                    return Rejection(Reason.BAD_UUID, f"{name} is not a UUID: {shown(value)}")
        when = parse_timestamp(raw.timestamp)
        if when is None:
            return Rejection(
                Reason.BAD_TIMESTAMP,
                f"{raw.timestamp_field} is not an ISO-8601 time: {shown(raw.timestamp)}",
            )
        if when.year < _EARLIEST_YEAR:
            return Rejection(
                Reason.BAD_TIMESTAMP, f"{raw.timestamp_field} is before the year {_EARLIEST_YEAR}"
            )
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        ahead = when - now
        if ahead > self._skew:
            return Rejection(
                Reason.FUTURE_TIMESTAMP,
                f"{raw.timestamp_field} is {ahead.total_seconds():.0f} s in the future"
                f" (limit {self.policy.max_future_skew_s:g} s)",
            )
        return build(raw, user[0], user[1], when.timestamp())
