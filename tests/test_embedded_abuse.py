"""The embedded mode under bad input and impatient stops: nothing lost, nothing frozen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chotdon.catalog import load_catalog
from chotdon.records import Approve, Comment, ViewerCount, encode
from ingest.sources import MAX_LINE_BYTES, JsonLinesSource, RecordsSource
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner, PipelineError
from tests.test_embedded import DEMO, ROOT, chotdon_run, comment, final_orders

RUN = [sys.executable, "-m", "chotdon", "run", "--catalog", "kim-an", "--no-serve"]


def dead_letters(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT position, reason FROM dead_letters ORDER BY position").fetchall()


def test_stdin_is_new_input_each_run_so_a_restart_skips_nothing(tmp_path: Path) -> None:
    clean = tmp_path / "clean.db"
    chotdon_run(clean, "--source", str(DEMO))
    lines = DEMO.read_text(encoding="utf-8").splitlines(keepends=True)

    db = tmp_path / "twice.db"
    chotdon_run(db, "--source", "-", stdin="".join(lines[:1000]))
    second = chotdon_run(db, "--source", "-", stdin="".join(lines[1000:]))
    assert "resuming" not in second.stderr
    assert final_orders(db) == final_orders(clean)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM comments").fetchone() == (2001,)

    # the same input piped again is recognised by its ids: nothing doubled
    chotdon_run(db, "--source", "-", stdin="".join(lines))
    assert final_orders(db) == final_orders(clean)
    with sqlite3.connect(db) as con:
        seqs = [s for (s,) in con.execute("SELECT seq FROM order_events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"viewers","stream":"kim-an-oi","viewers":9223372036854775808,"ts":1}',
        '{"type":"viewers","stream":"kim-an-oi","viewers":-1,"ts":1}',
        '{"type":"viewers","stream":"kim-an-oi","viewers":12,"ts":1e999}',
        '{"type":"stock","stream":"kim-an-oi","sku":"A3","delta":1' + "0" * 400 + "}",
        '{"type":"approve","stream":"kim-an-oi","review_id":"r","sku":"A3","qty":1e300}',
        json.dumps({"type": "comment", "stream": "kim-an-oi", "comment_id": "x" * 300,
                    "user_id": "u", "text": "chốt", "ts": 1}),
        json.dumps({"type": "comment", "stream": "kim-an-oi", "comment_id": "c9",
                    "user_id": "u", "text": "a" * 9000, "ts": 1}),
        '{"type":"comment","stream":"kim-an-oi","comment_id":"c8","user_id":"u","text":"\\ud83d","ts":1}',
    ],
)  # fmt: skip
def test_a_number_or_text_out_of_range_is_a_dead_letter_and_saving_goes_on(
    tmp_path: Path, line: str
) -> None:
    db = tmp_path / "s.db"
    lines = [comment("c1", "chốt 2 hộp ổi"), line, comment("c3", "A3 x2", user="u3")]
    run = chotdon_run(db, "--source", "-", stdin="\n".join(lines) + "\n")
    assert [p for p, _ in dead_letters(db)] == [2], run.stderr
    assert "1 dòng lỗi" in run.stderr
    assert sorted(t for t, _ in final_orders(db).values()) == [50_000, 160_000]


def test_a_dead_stage_stops_the_run_loudly_and_refuses_host_actions(tmp_path: Path) -> None:
    """The store refuses to write (here: a read-only database): the run raises, no freeze."""
    store = SQLiteStore(tmp_path / "ro.db")
    runner = EmbeddedRunner([load_catalog("kim-an")], store)
    store.db.execute("PRAGMA query_only = 1")
    logs: list[str] = []
    runner.log = logs.append
    records = (
        Comment(stream="kim-an-oi", comment_id=f"c{i}", user_id="u", text="chốt 1 ổi", ts=1.0)
        for i in range(100_000)
    )

    async def main() -> None:
        with pytest.raises(PipelineError, match="readonly"):
            await asyncio.wait_for(runner.run(RecordsSource("endless", records)), 20)
        with pytest.raises(PipelineError):
            await runner.submit(Approve(stream="kim-an-oi", review_id="r1", sku="A3", qty=1))

    asyncio.run(main())
    store.close()
    assert any("stage failed" in line for line in logs)


def test_the_cli_says_a_dead_stage_in_one_line_and_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "refusing.db"
    SQLiteStore(db).close()
    with sqlite3.connect(db) as con:  # every write of a comment fails, as on a full disk
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON comments"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    run = subprocess.run(
        [*RUN, "--db", str(db), "--exit-at-end", "--source", "-"],
        input=comment("c2", "chốt 1 hộp ổi") + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "disk full" in run.stderr.splitlines()[-1]


@pytest.mark.parametrize("where", ["stdin", "file"])
def test_a_line_over_the_limit_is_a_dead_letter_with_its_line_number(
    tmp_path: Path, where: str
) -> None:
    huge = comment("big", "x").replace('"x"', '"' + "y" * (MAX_LINE_BYTES + 10) + '"')
    lines = [
        comment("c1", "chốt 2 hộp ổi"),
        huge,
        "z" * (3 * MAX_LINE_BYTES),
        comment("c3", "A3 x2", user="u3"),
    ]
    data = "\n".join(lines) + "\n"
    db = tmp_path / "s.db"
    if where == "stdin":
        run = chotdon_run(db, "--source", "-", stdin=data)
    else:
        path = tmp_path / "in.jsonl"
        path.write_text(data, encoding="utf-8")
        run = chotdon_run(db, "--source", str(path))
    assert [p for p, _ in dead_letters(db)] == [2, 3]
    assert all("longer than" in reason for _, reason in dead_letters(db))
    assert "dòng 3 bị bỏ qua" in run.stderr
    assert sorted(t for t, _ in final_orders(db).values()) == [50_000, 160_000]


def test_a_named_pipe_is_read_line_by_line(tmp_path: Path) -> None:
    """An order written to a FIFO is processed at once, not when a 64 KiB chunk fills."""
    fifo = tmp_path / "comments.fifo"
    os.mkfifo(fifo)
    store = SQLiteStore(tmp_path / "p.db")
    runner = EmbeddedRunner([load_catalog("kim-an")], store)

    async def main() -> float:
        task = asyncio.create_task(runner.run(JsonLinesSource(str(fifo))))
        writer = await asyncio.to_thread(open, fifo, "w", encoding="utf-8")
        writer.write(comment("c1", "chốt 2 hộp ổi") + "\n")
        writer.flush()
        started = time.monotonic()
        while not store.count("orders", "kim-an-oi"):
            await asyncio.sleep(0.01)
            assert time.monotonic() - started < 5, "the order waited for more input"
        took = time.monotonic() - started
        writer.close()
        await asyncio.wait_for(task, 10)
        return took

    took = asyncio.run(main())
    store.close()
    assert took < 5


def test_sigterm_drains_what_was_read_and_stops_like_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    proc = subprocess.Popen(
        [*RUN, "--db", str(db), "--source", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stderr is not None
    lines = [comment(f"c{i}", "chốt 1 hộp ổi", user=f"u{i}") for i in range(300)]
    proc.stdin.write(("\n".join(lines) + "\n").encode())
    proc.stdin.flush()  # the pipe stays open: the run would wait for more
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.1)
        with sqlite3.connect(db) as con, contextlib.suppress(sqlite3.OperationalError):
            if con.execute("SELECT count(*) FROM comments").fetchone()[0] == 300:
                break  # (no such table while the run is still creating it)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    stderr = proc.stderr.read().decode()
    assert "300 bình luận" in stderr.splitlines()[-1]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM comments").fetchone() == (300,)


def test_viewers_at_the_edge_of_the_range_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    line = encode(ViewerCount(stream="kim-an-oi", viewers=10**9, ts=1.0)).decode()
    chotdon_run(db, "--source", "-", stdin=line + "\n")
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT viewers FROM viewers").fetchall() == [(10**9,)]


def test_simulated_streams_map_to_their_catalogs_and_survive_a_restart(tmp_path: Path) -> None:
    """`chotdon simulate --catalog A --catalog B --streams N | chotdon run --catalog A --catalog B`:
    the same flags work on both sides; a stream with no catalog is said once, with the fix."""
    sim = subprocess.run(
        [sys.executable, "-m", "chotdon", "simulate", "--catalog", "kim-an", "--catalog",
         "phu-xuyen", "--streams", "6", "--duration", "10", "--rate", "4", "--seed", "5"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    lines = sim.stdout.splitlines(keepends=True)
    db = tmp_path / "sim.db"
    both = ("--catalog", "kim-an", "--catalog", "phu-xuyen")
    half = len(lines) // 2
    cmd = [*RUN, *both, "--db", str(db), "--exit-at-end", "--source", "-"]
    first = subprocess.run(cmd, input="".join(lines[:half]), capture_output=True, text=True,
                           cwd=ROOT, timeout=60, check=True)  # fmt: skip
    assert "0 dòng lỗi" in first.stderr.splitlines()[-1]
    subprocess.run(cmd, input="".join(lines[half:]), capture_output=True, text=True, cwd=ROOT,
                   timeout=60, check=True)  # fmt: skip
    with sqlite3.connect(db) as con:
        streams = {s for (s,) in con.execute("SELECT DISTINCT stream FROM comments")}
        assert con.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
        per_stream = dict(con.execute("SELECT stream, count(*) FROM orders GROUP BY stream"))
        events = con.execute("SELECT stream, count(*), max(seq) FROM order_events GROUP BY stream")
        for stream, count, last in events:  # the restart went on with each stream's own book
            assert count == last, stream
    assert len(streams) == 6 and "kim-an-oi-3" in streams
    assert all(per_stream.get(s) for s in streams)

    only_one = subprocess.run(
        [*RUN, "--catalog", "kim-an", "--db", str(tmp_path / "one.db"), "--exit-at-end"],
        input="".join(lines), capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    said = [line for line in only_one.stderr.splitlines() if "chưa có danh mục" in line]
    assert len(said) == 3  # phu-xuyen-lang-nghe, -2, -3: once each, however many lines
    assert "--catalog" in said[0]
