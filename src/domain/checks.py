"""Value checks shared by the filter and the normaliser: UUIDs, user ids, event times."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

# Canonical 8-4-4-4-12 hex, either case; fullmatch, so no trailing newline sneaks through `$`.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# A user id goes inside a Redis Cluster hash tag `{...}`: no braces, no spaces, bounded length.
_USER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
_MAX_USER_ID = 128


def is_uuid(text: str) -> bool:
    """A UUID is written in the canonical 8-4-4-4-12 hexadecimal form, case-insensitive."""
    return _UUID.fullmatch(text) is not None


# `is_uuid` without the Python call around it (a match is truthy), for the filter's hot path,
# which checks five ids of every event.
uuid_match = _UUID.fullmatch


def is_user_id(text: str) -> bool:
    """A user id is 1-128 characters of letters, digits and `_ . : @ -`."""
    if type(text) is str and len(text) <= _MAX_USER_ID:  # a subclass could fool the cache
        return _user_id_ok(text)
    return _USER_ID.fullmatch(text) is not None


# Checked for every event, with few distinct values (a deployment's users): remembered, in a
# bounded cache of bounded strings.
@functools.lru_cache(maxsize=4096)
def _user_id_ok(text: str) -> bool:
    return _USER_ID.fullmatch(text) is not None


def parse_timestamp(text: str) -> datetime | None:
    """ISO-8601 (a trailing 'Z' allowed) as an aware UTC time; a naive time is taken as UTC."""
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
