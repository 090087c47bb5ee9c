"""The parser's compiled build (make parsers) never runs behind its sources: a compiled module its
source has moved past, one the build did not make, or a build without its record stops the import
with the command that rebuilds; CHOTDON_PURE=1 or no build runs the Python sources.

Each case imports a copy of the package in a fresh interpreter."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import parsers
from parsers.build import PURE, REBUILD, STAMP

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(parsers.__file__).parent
SUFFIX = EXTENSION_SUFFIXES[0]
PARSE = (
    "import parsers; from chotdon.catalog import load_catalog; "
    "p = parsers.Parser(load_catalog('kim-an')); "
    "print(parsers.BUILD, p.parse_uncached('chốt 2 hộp', 'A1').items)"
)


def copy(tmp_path: Path, compiled: bool) -> Path:
    """The package's sources (and its build, if asked and made) in tmp_path/parsers."""
    out = tmp_path / "parsers"
    out.mkdir()
    for path in SOURCE.iterdir():
        built = path.name.endswith(SUFFIX) or path == STAMP
        if path.suffix == ".py" or (compiled and built):
            shutil.copy2(path, out / path.name)
    return out


def load(package: Path, pure: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{package.parent}:{ROOT}"}
    if pure:
        env[PURE.env] = "1"
    return subprocess.run(
        [sys.executable, "-c", PARSE],
        env=env,
        cwd=package.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fake_build(package: Path, modules: dict[str, str]) -> None:
    """A build's files with no code in them: the check must refuse them before they load."""
    (package / STAMP.name).write_text(json.dumps(modules), encoding="utf-8")
    for module in modules:
        (package / f"{module}{SUFFIX}").write_bytes(b"")


def refused(done: subprocess.CompletedProcess[str], reason: str) -> None:
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("parsers.build.StaleBuild:") and reason in last, done.stderr
    assert f"`{REBUILD}`" in last and f"{PURE.env}=1" in last


def test_without_a_build_the_sources_run(tmp_path: Path) -> None:
    done = load(copy(tmp_path, compiled=False))
    assert done.stdout.strip() == "pure [Item(sku='OI-HOP', qty=2, variant=None)]", done.stderr


def test_a_source_changed_since_the_build_stops_the_import(tmp_path: Path) -> None:
    package = copy(tmp_path, compiled=False)
    source = package / "grammar.py"
    fake_build(package, {"grammar": parsers.build.source_digest("grammar")})
    source.write_text(source.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    refused(load(package), "grammar.py changed since it was compiled")
    done = load(package, pure=True)  # the way round it while the build is stale
    assert done.stdout.startswith("pure [Item(sku='OI-HOP'"), done.stderr


def test_a_compiled_module_the_build_did_not_make_stops_the_import(tmp_path: Path) -> None:
    package = copy(tmp_path, compiled=False)
    fake_build(package, {})
    (package / f"old{SUFFIX}").write_bytes(b"")
    refused(load(package), f"old{SUFFIX} is not part of the build")


def test_a_build_without_its_record_stops_the_import(tmp_path: Path) -> None:
    package = copy(tmp_path, compiled=False)
    (package / f"text{SUFFIX}").write_bytes(b"")
    refused(load(package), f"{STAMP.name}, the record of what was compiled, is missing")


def test_a_build_for_another_python_stops_the_import(tmp_path: Path) -> None:
    package = copy(tmp_path, compiled=False)
    (package / STAMP.name).write_text(
        json.dumps({"text": parsers.build.source_digest("text")}), encoding="utf-8"
    )
    (package / "text.cpython-399-x86_64-linux-gnu.so").write_bytes(b"")
    refused(load(package), f"text is not compiled for this Python ({SUFFIX})")


def test_a_current_build_runs_compiled_with_the_same_reading(tmp_path: Path) -> None:
    if not STAMP.is_file():
        pytest.skip(f"the parser is not compiled here: `{REBUILD}`")
    package = copy(tmp_path, compiled=True)
    compiled, pure = load(package), load(package, pure=True)
    assert compiled.stdout.split(" ", 1)[0] == "compiled", compiled.stderr
    assert pure.stdout.split(" ", 1)[0] == "pure", pure.stderr
    assert compiled.stdout.split(" ", 1)[1] == pure.stdout.split(" ", 1)[1]


def test_make_rebuilds_for_exactly_the_modules_it_compiles() -> None:
    """`make parsers` depends on the compiled modules' sources, never on those left as Python."""
    spec = importlib.util.spec_from_file_location("build_parsers", ROOT / "deploy/build_parsers.py")
    assert spec is not None and spec.loader is not None
    build_parsers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_parsers)
    database = subprocess.run(
        ["make", "--no-print-directory", "-pq", "parsers"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rule = next(line for line in database.splitlines() if line.startswith(f"parsers/{STAMP.name}:"))
    prerequisites = rule.split(":", 1)[1].split()
    sources = {p for p in prerequisites if p.startswith("parsers/") and p != "parsers/build.py"}
    assert sources == {f"parsers/{m}.py" for m in build_parsers.MODULES}
    assert "parsers/cli.py" not in sources and "parsers/catalog_check.py" not in sources
