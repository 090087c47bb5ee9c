"""The command line of a chotdon process a test starts: this interpreter, `-m chotdon`."""

from __future__ import annotations

import sys


def chotdon(*args: str) -> list[str]:
    return [sys.executable, "-m", "chotdon", *args]
