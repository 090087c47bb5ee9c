"""Bounded log noise from the service clients: while Kafka is away, its client logs an error for
every attempt of every connection (thousands of lines for a few seconds of outage), burying what a
person needs to read. `limit_client_logs` lets each kind of message (logger, level and message
template) through at most once per window, and says on the next one how many were held back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

WINDOW_S = 10.0
CLIENT_LOGGERS = ("aiokafka",)  # and their children
MAX_KINDS = 1000  # kinds of message remembered; beyond, the oldest are forgotten


@dataclass
class _Seen:
    shown_at: float
    held: int = 0


class RepeatLimit(logging.Filter):
    """Lets a kind of message through once per `window_s`; the next one shown carries the count
    of those held back meanwhile."""

    def __init__(
        self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.shown_at < self.window_s:
            seen.held += 1
            return False
        if seen is not None and seen.held:
            record.msg = (
                f"{record.msg} (+{seen.held} như vậy trong {self.window_s:.0f} s "
                f"/ more like this in {self.window_s:.0f} s)"
            )
        self._seen.pop(key, None)
        self._seen[key] = _Seen(now)  # the most recently shown last
        if len(self._seen) > MAX_KINDS:
            del self._seen[next(iter(self._seen))]
        return True


def limit_client_logs(
    names: Iterable[str] = CLIENT_LOGGERS, window_s: float = WINDOW_S
) -> RepeatLimit:
    """Put one RepeatLimit on the named loggers and their children (a logger's filters do not
    see its children's records). The clients are imported first: their loggers exist then."""
    import aiokafka  # type: ignore[import-untyped]  # noqa: F401  (creates its loggers)

    limit = RepeatLimit(window_s)
    prefixes = tuple(names)
    children = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(tuple(f"{p}." for p in prefixes))
    ]
    for name in (*prefixes, *children):
        logging.getLogger(name).addFilter(limit)
    return limit
