"""The garbage collector's settings for a long-running process (a session, a worker, a sink).

Objects allocated between two collections of the young generation (CPython's default: 700). A
batch's records live until it is committed, so at 700 they are traced again and again and
promoted to the old generation, whose full collections then grow with the session: the embedded
mode's collector took 15-22 µs of CPU a comment (20k-100k comments), ~6 at 20,000 (a pause of a
few milliseconds each, ~10 times a second at full speed). What a process starts with (the
modules, the parser's word lists, the catalogs, a restored book; Faust's services) lives as long
as it does and is frozen out of the collections (`gc.freeze()` once started): a full collection
of the worker traced ~200,000 objects, pausing it 0.1-0.4 s under load. See
benchmarks/embedded_scaling.py and benchmarks/kafka_pipeline.py.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_GENERATION = 20_000


@contextlib.contextmanager
def young_generation(size: int = YOUNG_GENERATION) -> Iterator[None]:
    """Collect the young generation every `size` allocations while inside; what `gc.freeze()`
    leaves out of the collections inside is collected again after (then all as before)."""
    before = gc.get_threshold()
    gc.set_threshold(size, *before[1:])
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
