"""Random and hostile lines through the embedded runner: every good record's order survives,
every bad line is a counted dead letter at its line number, and the run keeps going."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chotdon.catalog import load_catalog
from chotdon.records import Comment, encode
from ingest.sources import MAX_LINE_BYTES, JsonLinesSource
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner

STREAM = "kim-an-oi"
EDGE_NUMBERS = ["9223372036854775808", "-1", "1e999", "-1e999", "1" + "0" * 400, "1.5", "true"]


def viewers(value: str) -> str:
    return f'{{"type":"viewers","stream":"{STREAM}","viewers":{value},"ts":1}}'


def comment_with(**fields: object) -> str:
    base: dict[str, object] = {
        "type": "comment", "stream": STREAM, "comment_id": "x", "user_id": "u", "text": "A3",
        "ts": 1,
    }  # fmt: skip
    return json.dumps({**base, **fields})


HOSTILE = st.one_of(
    st.sampled_from(EDGE_NUMBERS).map(viewers),
    st.sampled_from([n for n in EDGE_NUMBERS if n != "1.5"]).map(  # 1.5 is a fine time
        lambda n: comment_with(ts=0).replace('"ts": 0', f'"ts": {n}')
    ),
    st.sampled_from(
        [
            comment_with(text="\\ud83d").replace("\\\\", "\\"),  # half an emoji, escaped
            comment_with(stream=7),  # wrong types
            comment_with(text=None),
            comment_with(comment_id="c" * 1000),
            comment_with(stream="no-such-stream"),
            comment_with(type="metrics"),
            '{"type":"stock","stream":"kim-an-oi","sku":"A3","delta":1' + "0" * 400 + "}",
            "[" * 10_000 + "]" * 10_000,  # nested
            '{"type":"comment",' * 5_000,
            "x" * (MAX_LINE_BYTES + 1),  # oversized
            json.dumps({"type": "intent", "intent": "order"}),  # not a source record
        ]
    ),
    st.text(st.characters(blacklist_characters="\n"), min_size=1, max_size=80).filter(
        lambda t: bool(t.strip())
    ),
)


def good(i: int, n: int) -> str:
    record = Comment(
        stream=STREAM, comment_id=f"g{i}", user_id=f"u{i}", text=f"chốt {n} chai nước ép", ts=1.0
    )
    return encode(record).decode()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.one_of(st.integers(1, 3).map(lambda n: ("good", n)), HOSTILE), max_size=40))
def test_hostile_lines_never_stop_the_run_or_lose_a_good_order(
    lines: list[tuple[str, int] | str],
) -> None:
    text, good_users, bad_lines = [], [], []
    for number, line in enumerate(lines, 1):
        if isinstance(line, tuple):
            text.append(good(number, line[1]))
            good_users.append(f"file:u{number}")
        else:
            text.append(line)
            bad_lines.append(number)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_bytes("\n".join(text).encode("utf-8", "surrogatepass") + b"\n")
        store = SQLiteStore(Path(tmp) / "s.db")
        runner = EmbeddedRunner([load_catalog("kim-an")], store)
        stats = asyncio.run(asyncio.wait_for(runner.run(JsonLinesSource(str(path))), 60))
        store.close()
        with sqlite3.connect(Path(tmp) / "s.db") as con:
            dead = [p for (p,) in con.execute("SELECT position FROM dead_letters ORDER BY 1")]
            customers = {
                json.loads(data)["customer"] for (data,) in con.execute("SELECT record FROM orders")
            }
    assert dead == bad_lines
    assert stats.dead_letters == len(bad_lines)
    assert stats.comments == len(good_users)
    assert set(good_users) <= customers  # confirmed or waitlisted: never lost
