"""An order book as its stores keep it: rows of bytes, so that what a commit or a checkpoint
writes is what changed. `stream_jobs.book_rows` makes and reads them; the SQLite store and the
Faust table only keep them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class BookRows:
    head: bytes  # stock and counters: small, whatever the session's length
    customers: dict[str, bytes | None]  # customer -> row; None: the row goes
    log: list[tuple[int, bytes]]  # logged inputs of the recent window, by number
    dropped: list[int] = field(default_factory=list)  # numbers of logged inputs whose row goes
    # older logged inputs, compressed, by the first number each block covers; None: the row goes
    blocks: dict[int, bytes | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.customers or self.log or self.dropped or self.blocks)
