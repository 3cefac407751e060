"""Python's cyclic garbage collector and the models a server holds.

A loaded TensorFlow or PyTorch model is hundreds of thousands of Python objects that live
as long as it serves, and a full (generation 2) collection traverses all of them with
the GIL held: 0.22 s on the taxi model, during which no request is answered. With the
request log on they ran every few seconds: each request's rows wait up to 0.1 s for the
writer, long enough to survive the young collections and fill the old generation. At
concurrency 8 that took p99 from 7 ms to 175 ms.

So after a version loads, everything alive is frozen (gc.freeze: moved to a generation
the collector never scans), and full collections see only what came after: 0.001 s.
An unloaded version's reference cycles would never be collected while frozen, so after
a swap or removal the heap is unfrozen, collected once and frozen again. The server
does that at its next look at the serving dir, once the requests that still held the
old version have been answered.
"""
from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def freeze_loaded() -> None:
    """After a version loaded: what is alive now (the models, the server) is frozen."""
    with _lock:
        gc.freeze()


def collect_unloaded() -> None:
    """After versions were dropped: their cycles are collected, the rest frozen again."""
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
