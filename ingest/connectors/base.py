"""What every connector shares: errors, dedupe, checkpoints, backoff (the run loop is
`runner`).

Errors, as a tree (retry logic reads `retriable`, never the message):

    ConnectorError
    ├── TransientError      network errors, 5xx, dropped connections: back off and retry
    │   └── RateLimited     the platform asked us to slow down (`retry_after` seconds)
    ├── AuthError           token expired or invalid: stop with a clear message
    ├── QuotaExceeded       the daily quota is spent: stop with a clear message
    └── SessionEnded        the livestream ended (or its chat did): stop cleanly
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from chotdon.records import Comment, SetCurrent, ViewerCount

ConnectorRecord = Comment | ViewerCount | SetCurrent  # SetCurrent: the product pinned on screen
Emit = Callable[[ConnectorRecord], Awaitable[None]]


class ConnectorError(Exception):
    retriable: ClassVar[bool] = False
    kind: ClassVar[str] = "error"


class TransientError(ConnectorError):
    retriable = True
    kind = "transient"

    def __init__(self, message: str, *, posting: bool = False) -> None:
        super().__init__(message)
        # raised by a request that posts (a reply): once it reached the platform, it stands
        self.posting = posting


class RateLimited(TransientError):
    kind = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    kind = "auth"


class QuotaExceeded(ConnectorError):
    kind = "quota"


class SessionEnded(ConnectorError):
    kind = "ended"


class Deduper:
    """Remembers the last `capacity` comment ids: bounded memory, enough to drop the overlap of
    consecutive polls and the history a reconnect replays."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, key: str) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def recent(self, n: int) -> list[str]:
        """The last `n` ids seen, oldest first: what a checkpoint keeps so a restart that
        re-reads its last window (a `since` of whole seconds, a replayed history) drops them."""
        keys = list(self._seen)
        return keys[-n:] if n > 0 else []

    def remember(self, keys: list[str]) -> None:
        for key in keys:
            self.first_time(key)


def state_file(directory: str | Path, platform: str, stream: str, suffix: str = ".json") -> Path:
    """A connector's file in `directory` (its checkpoint, its refreshed tokens)."""
    safe = re.sub(r"[^\w.-]+", "_", stream)
    return Path(directory) / f"{platform}-{safe}{suffix}"


class Checkpoint:
    """A connector's resumable position (cursor, offset, page token, last seen time), saved
    atomically to a JSON file so a restart neither skips nor replays a window."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.state: dict[str, Any] = {}
        if self.path and self.path.exists():
            self.state = json.loads(self.path.read_text(encoding="utf-8"))

    def save(self, **values: Any) -> None:
        self.state.update(values)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.path)


@dataclass
class Backoff:
    """Exponential backoff with full jitter; a platform's own retry-after wins when longer."""

    base: float = 1.0
    cap: float = 60.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, retry_after: float | None = None) -> float:
        self.attempt += 1
        delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** (self.attempt - 1)))
        return max(delay, retry_after or 0.0)

    def reset(self) -> None:
        self.attempt = 0
