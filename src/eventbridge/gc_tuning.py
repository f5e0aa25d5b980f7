"""CPython's cyclic GC thresholds for the long-running processes (bridge and gateway)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Both processes allocate far more short-lived objects than cycles: the bridge decodes
# thousands of JSON objects per batch, the gateway holds thousands of idle connections.
# With CPython's default thresholds (700, 10, 10) the bridge ran ~1,600 collections and spent
# 13% of its CPU in them per 100k events, and each full collection paused every stream for
# ~0.4 s at 10k SSE connections (bench/). Fewer, larger young collections fix both.
GC_THRESHOLDS = (50_000, 20, 100)
_CPYTHON_DEFAULT = (700, 10, 10)


@contextlib.contextmanager
def gc_tuned() -> Iterator[None]:
    """Raise the thresholds while the block runs, unless an operator already changed them."""
    previous = gc.get_threshold()
    if previous == _CPYTHON_DEFAULT:
        gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
