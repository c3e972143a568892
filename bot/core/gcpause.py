"""Pause the cyclic garbage collector while many objects are built at once.

Reading thousands of cases builds tens of thousands of short-lived objects;
each burst of allocations triggers collections that walk the whole heap of a
long-running process, a third of the digest's time over 10,000 cases.
Reference counting still frees everything as usual; only the search for
reference cycles waits until the bulk read is over.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_DEPTH = [0]
_WAS_ENABLED = [False]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with automatic collection off (nested and threaded use are safe)."""
    with _LOCK:
        if _DEPTH[0] == 0:
            _WAS_ENABLED[0] = gc.isenabled()
            gc.disable()
        _DEPTH[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0 and _WAS_ENABLED[0]:
                gc.enable()
