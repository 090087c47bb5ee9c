"""Which build of the parser runs: the one compiled by mypyc, or pure Python.

`make parsers` (deploy/build_parsers.py) compiles the parser's modules into C extension modules
next to their sources, and writes STAMP: the SHA-256 of each source it compiled. Python imports an
extension module before a source of the same name, so a compiled module older than its source
would silently run yesterday's parser; `check()` refuses that, with the command that rebuilds.
With no compiled module (no build, `make clean`) the pure-Python modules run; `CHOTDON_PURE=1`
runs them even where a build exists (to compare the two).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

from chotdon.config import SETTINGS

HERE = Path(__file__).resolve().parent
STAMP = HERE / "compiled.json"
REBUILD = "make parsers"
GROUP = "compiled"  # mypyc compiles the modules as one group, into one shared library:
SHARED_LIB = f"{GROUP}__mypyc"  # parsers/compiled__mypyc.*.so
PURE = next(s for s in SETTINGS if s.name == "pure")


class StaleBuild(ImportError):
    """The compiled parser does not match its sources."""


def source_digest(module: str) -> str:
    return hashlib.sha256((HERE / f"{module}.py").read_bytes()).hexdigest()


def extension_modules() -> dict[str, str]:
    """Module name -> file name of each extension module in the package directory."""
    found: dict[str, str] = {}
    for path in HERE.iterdir():
        suffix = next((s for s in EXTENSION_SUFFIXES if path.name.endswith(s)), None)
        if suffix is not None:
            found[path.name.removesuffix(suffix)] = path.name
    return found


def stale(stamp: dict[str, str], extensions: dict[str, str]) -> list[str]:
    """What keeps the compiled build from running, one phrase each (empty: it is current)."""
    own_suffix = EXTENSION_SUFFIXES[0]
    problems = []
    for module, digest in stamp.items():
        if not (HERE / f"{module}.py").is_file():
            problems.append(f"{module}.py is gone")
        elif source_digest(module) != digest:
            problems.append(f"{module}.py changed since it was compiled")
        elif not (HERE / f"{module}{own_suffix}").is_file():
            problems.append(f"{module} is not compiled for this Python ({own_suffix})")
    strays = sorted(set(extensions) - set(stamp) - {SHARED_LIB})
    problems += [f"{extensions[m]} is not part of the build" for m in strays]
    return problems


class _Sources(importlib.abc.MetaPathFinder):
    """Finds this package's modules in their sources, before the compiled ones."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        source = HERE / f"{name}.py"
        if package != __package__ or not source.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def check() -> str:
    """'compiled' or 'pure': the build the package's modules load from. Raises StaleBuild when
    a compiled module does not match its source."""
    if PURE.read(os.environ):
        sys.meta_path.insert(0, _Sources())
        return "pure"
    extensions = extension_modules()
    if not extensions:
        return "pure"
    try:
        stamp: dict[str, str] = json.loads(STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        problems = [f"{STAMP.name}, the record of what was compiled, is missing or unreadable"]
    else:
        problems = stale(stamp, extensions)
    if problems:
        raise StaleBuild(
            f"the parser's compiled build ({HERE}) does not match its sources: "
            f"{'; '.join(problems)}. Rebuild it: `{REBUILD}` (or run the pure-Python parser: "
            f"{PURE.env}=1; `make clean` removes the build)"
        )
    return "compiled"
