"""The `chotdon parse` contract that other tools depend on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chotdon.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
COMMAND_LINES = [
    f"{c.name} {s.name}" if s else c.name for c in COMMANDS for s in c.commands or (None,)
]


def chotdon(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chotdon", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_json_lines_in_one_line_out_per_input_errors_included() -> None:
    lines = [
        json.dumps({"id": "c1", "text": "chốt 2 hộp ổi", "current": None, "user": "ignored"}),
        "{not json",
        json.dumps({"id": 7, "text": "sdt 0912 345 678 lấy 3kg ổi", "current": "A1"}),
        json.dumps({"id": "c3", "current": "A1"}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "c4", "text": "+1", "current": "A3"}),
    ]
    run = chotdon("parse", "--catalog", "kim-an", stdin="\n".join(lines) + "\n")
    assert run.returncode == 0
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(out) == 6
    assert out[0]["id"] == "c1" and out[0]["intent"] == "order"
    assert out[0]["items"] == [{"sku": "OI-HOP", "qty": 2, "variant": None}]
    assert out[0]["phone"] is None and "explanation" not in out[0]
    assert out[1]["id"] is None and "invalid JSON" in out[1]["error"]
    assert out[2] == {
        "id": 7,
        "intent": "order",
        "items": [{"sku": "OI-KG", "qty": 3, "variant": None}],
        "phone": "0912345678",
        "confidence": out[2]["confidence"],
        "parser_version": out[2]["parser_version"],
    }
    assert out[3] == {"id": "c3", "error": "field 'text' is missing or not a string"}
    assert out[4]["id"] is None and "error" in out[4]
    assert out[5]["items"] == [{"sku": "NUOC-OI", "qty": 1, "variant": None}]
    assert "3 line(s) could not be read" in run.stderr


def test_explain_adds_spans(tmp_path: Path) -> None:
    catalog = tmp_path / "px.json"
    catalog.write_text((ROOT / "chotdon/data/phu-xuyen.json").read_text("utf-8"), "utf-8")
    run = chotdon(
        "parse",
        "--catalog",
        str(catalog),
        "--explain",
        stdin=json.dumps({"id": 1, "text": "chốt giày size 41", "current": "G1"}),
    )
    row = json.loads(run.stdout)
    assert row["items"] == [{"sku": "GIAY-DA", "qty": 1, "variant": "41"}]
    assert {"rule": "variant", "start": 10, "end": 17, "text": "size 41"} in row["explanation"]


def test_text_mode_is_for_people_with_vnd_and_masked_phone() -> None:
    run = chotdon("parse", "--catalog", "kim-an", "--text", "e lấy 3 hộp ổi, sđt 0912345678")
    assert run.returncode == 0
    assert "đặt hàng" in run.stdout and "240.000 ₫" in run.stdout
    assert "0912***678" in run.stdout and "0912345678" not in run.stdout


@pytest.mark.parametrize("catalog", ["nope", "/no/such/file.json"])
def test_a_bad_catalog_is_a_clear_error(catalog: str) -> None:
    run = chotdon("parse", "--catalog", catalog, "--text", "chốt")
    assert run.returncode == 2 and "catalog" in run.stderr and "Traceback" not in run.stderr


def test_bundled_sample_runs() -> None:
    run = chotdon("parse", "--catalog", "kim-an", "--sample")
    assert run.returncode == 0 and "Tổng:" in run.stdout


def test_parse_loads_only_the_parser() -> None:
    """The sub-command table loads one command's modules: `parse` starts without the
    network stack of the distributed mode."""
    code = (
        "import sys\n"
        "from chotdon.cli import main\n"
        "main(['parse', '--catalog', 'kim-an', '--text', 'chốt 2 hộp'])\n"
        "heavy = {'aiohttp', 'aiokafka', 'redis', 'faust', 'pyarrow', 'matplotlib', 'sinks'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "đặt hàng" in run.stdout
    assert run.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("words", [name.split() for name in COMMAND_LINES])
def test_every_command_loads_and_explains_itself(words: list[str]) -> None:
    """Every row of the table names functions that exist: each command's --help works."""
    run = chotdon(*words, "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: chotdon {' '.join(words)}")


def test_a_metrics_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = chotdon("sink", "redis", "--metrics", f"127.0.0.1:{port}")
    assert run.returncode == 1
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr
