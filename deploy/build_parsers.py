"""Compile the parser with mypyc: each module in MODULES becomes a C extension module next to its
source (one shared library holds their code), then parsers/compiled.json records the SHA-256 of
the sources compiled, so `parsers` refuses to run a compiled module its source has moved past
(parsers/build.py). `make parsers` runs this whenever one of the SOURCES it compiles is newer than
that record.

    .venv/bin/python deploy/build_parsers.py           # needs gcc and Python's headers
    .venv/bin/python deploy/build_parsers.py --clean   # back to pure Python
    python3 deploy/build_parsers.py --sources          # what it compiles (the Makefile's list)

The modules that do I/O or run once per command (cli, catalog_check, build) stay Python.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
MODULES = (
    "text",
    "vocab",
    "lexicon",
    "tags",
    "everyday",
    "catalog_index",
    "grammar",
    "intents",
    "items",
    "parser",
)
SOURCES = tuple(f"parsers/{m}.py" for m in MODULES)  # relative to ROOT
TEMP = ROOT / "build" / "mypyc"  # the generated C and the object files


def load_build() -> ModuleType:
    """parsers/build.py alone: importing the package would load (or refuse) the build."""
    spec = importlib.util.spec_from_file_location("parsers_build", ROOT / "parsers" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--clean", action="store_true", help="remove the compiled modules")
    what.add_argument("--sources", action="store_true", help="print the sources it compiles")
    args = ap.parse_args()
    if args.sources:
        print(" ".join(SOURCES))
        return 0
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    build = load_build()
    for name in build.extension_modules().values():
        (build.HERE / name).unlink()
    build.STAMP.unlink(missing_ok=True)
    if args.clean:
        return 0
    from mypyc.build import mypycify
    from setuptools import setup  # type: ignore[import-untyped]

    digests = {m: build.source_digest(m) for m in MODULES}  # what is compiled, read once
    setup(
        name="chotdon-parsers",
        ext_modules=mypycify(
            list(SOURCES), group_name=f"parsers.{build.GROUP}", target_dir=str(TEMP)
        ),
        script_args=["--quiet", "build_ext", "--inplace", "--build-temp", str(TEMP)],
    )
    build.STAMP.write_text(json.dumps(digests, indent=1) + "\n", encoding="utf-8")
    print(f"parsers: {len(MODULES)} modules compiled ({', '.join(MODULES)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
