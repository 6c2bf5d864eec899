"""Pausing Python's cyclic garbage collector while a load or a plan makes many long-lived objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the body with the cyclic collector off; what it made is then frozen (``gc.freeze``).

    Loading and planning 100,000 rows makes millions of objects that all stay alive, and the collector
    scanned them again and again (a quarter of the planning time). Frozen objects are still freed by
    reference counting when dropped; later collections only stop scanning them. Nested pauses are one.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
