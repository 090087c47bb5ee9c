"""Progress bars on stderr, shown only on a terminal and only for work that takes a while."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

SHOW_AFTER_S = 0.5  # a quick export or replay prints no bar at all


def bar(desc: str, unit: str, total: int | None = None, enabled: bool = True) -> tqdm[Any]:
    """A bar with the rate (unit/s) and the time left; off when stderr is not a terminal."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        delay=SHOW_AFTER_S,
        disable=None if enabled else True,  # None: only on a terminal
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )
