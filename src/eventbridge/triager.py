"""The one way a Triager is built: the container, `eventbridge check`, the tests and the bench."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from application.owners import OwnerCache
from application.triage import Triager
from domain.filter import EventFilter, FilterPolicy
from domain.mapper import SseMapper
from eventbridge.settings import FilterSettings


def filter_policy(settings: FilterSettings) -> FilterPolicy:
    """The filter's domain policy from its settings slice (`max_record_bytes` lives here)."""
    return FilterPolicy(
        whitelist=settings.whitelist,
        max_future_skew_s=settings.max_future_skew_s,
        max_record_bytes=settings.max_record_bytes,
    )


def build_triager(
    settings: FilterSettings | None = None,
    *,
    owners: OwnerCache | None = None,
    loads: Callable[[bytes], Any] = orjson.loads,
    dumps: Callable[[Any], bytes] = orjson.dumps,
) -> Triager:
    """The filter and mapper of `settings` (the defaults when None) over orjson, routing by
    `owners` (a fresh memory when None); `loads`/`dumps` replace orjson, for tests only."""
    settings = settings or FilterSettings()
    return Triager(
        event_filter=EventFilter(filter_policy(settings)),
        mapper=SseMapper(max_data_bytes=settings.max_data_bytes, dumps=dumps),
        owners=owners if owners is not None else OwnerCache(),
        loads=loads,
    )
