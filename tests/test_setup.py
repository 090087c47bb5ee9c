"""The set-up a fresh machine gets: the system-package step, the locked broker jars."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "deploy" / "setup"
JARS_LOCK = ROOT / "deploy" / "kafka" / "jars.lock"


def run_setup(profile: str, tools: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """deploy/setup as an unprivileged user whose PATH holds only bash, awk and `tools` (no Python
    with venv either: the one here lives under /root, out of that user's reach)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ["bash", "awk", *tools]:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the step as another user")
    # the script on stdin: that user may not read this checkout (a clone in `mktemp -d` is 0700)
    return subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-s", profile],
        input=SETUP.read_text(),
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_setup_prints_the_apt_command_for_what_is_missing_when_not_root(tmp_path: Path) -> None:
    done = run_setup("test", ["java"], tmp_path)
    assert done.returncode == 1
    command = done.stderr.split("run: ", 1)[1].split()
    assert command[:3] == ["sudo", "apt-get", "update"]
    assert {"python3-venv", "maven", "redis-server"} <= set(command)


def test_demo_asks_only_for_python_and_the_parser_compiler(tmp_path: Path) -> None:
    """The demo compiles the parser (mypyc): Python's venv and headers, gcc and libc's headers."""
    done = run_setup("demo", [], tmp_path)
    assert done.returncode == 1
    asked = done.stderr.rstrip().split("--no-install-recommends ", 1)[1].split()
    assert {"python3-venv", "python3-dev", "gcc"} <= set(asked)
    assert set(asked) <= {"python3-venv", "python3-dev", "gcc", "libc6-dev"}


def test_setup_refuses_an_unknown_profile() -> None:
    done = subprocess.run(["bash", str(SETUP), "prod"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr


def test_broker_jars_are_pinned_with_checksums() -> None:
    lines = [x for x in JARS_LOCK.read_text().splitlines() if not x.startswith("#")]
    entry = re.compile(r"[\w.-]+:[\w.-]+:[\w.-]+ [0-9a-f]{64}")
    assert lines and all(entry.fullmatch(line) for line in lines), lines
    coords = {
        line.split()[0].rsplit(":", 1)[0]: line.split()[0].rsplit(":", 1)[1] for line in lines
    }
    assert coords["org.apache.kafka:kafka_2.13"] == coords["org.apache.kafka:kafka-clients"]
    assert "org.apache.logging.log4j:log4j-slf4j-impl" in coords
