"""Contracts of the commands under bad input: `chotdon parse` writes one valid JSON line per input
line whatever comes in; a bad flag or environment value is one line and exit status 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chotdon.config import SettingError, settings
from tests.test_cli import ROOT, chotdon


def strict_json(line: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_parse_writes_one_valid_json_line_per_line_whatever_comes_in() -> None:
    order = "chốt 2 hộp ổi".encode()
    lines = [
        b'{"id": "\\ud83d", "text": "' + order + b'"}',  # half an emoji
        b'{"id": 1e999, "text": "A3 x2"}',  # beyond a double: not Infinity out
        b"[" * 100_000 + b"]" * 100_000,  # nested deeper than any parser recurses
        b'{"id": "nest", "text": "x", "current": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"id": "\xff\xfe", "text": "bad utf-8"}',
        b'{"id": {"a": 1}, "text": "chot"}',
        b'{"id": "long", "text": "' + b"a" * 20_000 + b'"}',
        b'{"id": "ok", "text": "' + order + b'"}',
    ]
    run = subprocess.run(
        [sys.executable, "-m", "chotdon", "parse", "--catalog", "kim-an"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()
    out = [strict_json(line) for line in run.stdout.decode().splitlines()]
    assert len(out) == len(lines)
    assert all("error" in row for row in out[:7])
    assert out[7]["id"] == "ok" and out[7]["intent"] == "order"
    assert "Traceback" not in run.stderr.decode()


def one_line_exit_2(run: subprocess.CompletedProcess[str], says: str) -> None:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert says in run.stderr.strip().splitlines()[-1]


RUN = ("run", "--no-serve", "--exit-at-end")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--speed", "fast"), "argument --speed"),
        (("--speed", "nan"), "argument --speed"),
        (("--speed", "-3"), "argument --speed"),
        (("--queue-size", "0"), "argument --queue-size"),
        (("--port", "70000"), "argument --port"),
        (("--source", "/no/such/file.jsonl"), "no such file"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    one_line_exit_2(chotdon(*RUN, *args), says)


def test_a_db_that_is_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_text("không phải cơ sở dữ liệu\n" * 100, encoding="utf-8")
    one_line_exit_2(chotdon(*RUN, "--db", str(db), "--source", "-"), "not a database")


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        run = chotdon(
            "run", "--exit-at-end", "--db", str(tmp_path / "s.db"), "--port", port, "--source", "-"
        )
    one_line_exit_2(run, "address already in use")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CHOTDON_PORT": "abc"}, "CHOTDON_PORT"),
        ({"CHOTDON_PORT": "99999"}, "CHOTDON_PORT"),
        ({"CHOTDON_QUEUE_SIZE": "-1"}, "CHOTDON_QUEUE_SIZE"),
        ({"CHOTDON_PARTITIONS": "1.5"}, "CHOTDON_PARTITIONS"),
    ],
)
def test_bad_environment_values_are_one_line_and_exit_2(env: dict[str, str], says: str) -> None:
    one_line_exit_2(chotdon(*RUN, env=env), says)


def test_each_setting_has_its_own_parser() -> None:
    assert settings({"CHOTDON_PORT": " 8081 "}).port == 8081
    assert settings({"CHOTDON_DB": "0"}).db == "0"  # text stays text
    with pytest.raises(SettingError, match="CHOTDON_PORT"):
        settings({"CHOTDON_PORT": "True"})
