"""The bundled demo session recorded once (as `chotdon run` records it), and ways to look into
the SQLite files the analytics commands read and write.

Import the fixture where it is used: `from tests.analytics_helpers import demo_db_fixture`
(its name is `demo_db`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

from chotdon import topics
from chotdon.records import Record, encode

DEMO = Path(str(resources.files("chotdon") / "data" / "demo_session.jsonl"))
STREAM = "kim-an-oi"
COMPARED = ("intents", "order_events", "orders")  # what a replay produces, byte for byte


def record_demo(db: Path) -> None:
    """The demo session through the embedded pipeline, as a host would record it."""
    argv = ["run", "--catalog", "kim-an", "--source", str(DEMO), "--no-serve", "--exit-at-end"]
    subprocess.run(
        [sys.executable, "-m", "chotdon", *argv, "--db", str(db)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session", name="demo_db")
def demo_db_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded demo session (tests only ever read it)."""
    db = tmp_path_factory.mktemp("live") / "live.db"
    record_demo(db)
    return db


def rows(db: Path, table: str, columns: str = "record") -> list[tuple[Any, ...]]:
    """A table's rows in the order they were written, read without writing."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall()
    finally:
        con.close()


def produced(db: Path) -> dict[str, list[tuple[object, ...]]]:
    return {table: rows(db, table) for table in COMPARED}


def fingerprint(db: Path) -> dict[str, str]:
    """A hash of every table's every row, and of the file's bytes."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {}
        for name in sorted(names):
            digest = hashlib.sha256()
            for row in con.execute(f"SELECT * FROM {name} ORDER BY rowid"):
                digest.update(repr(row).encode())
            out[name] = digest.hexdigest()
    finally:
        con.close()
    out["<file>"] = hashlib.sha256(db.read_bytes()).hexdigest()
    return out


def command(module: ModuleType, argv: list[str]) -> int:
    """Run an analytics command as the CLI would (its `add_arguments` and `cmd_*`)."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    name = module.__name__.rpartition(".")[2]  # analytics.export -> cmd_export
    run: Callable[[argparse.Namespace], int] = getattr(module, f"cmd_{name}")
    return run(parser.parse_args(argv))


def produce(
    bootstrap: str, prefix: str, records: Iterable[tuple[topics.TopicSpec, Record]]
) -> None:
    """Records to their topics keyed by stream id, in order (what the workers would publish)."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for spec, record in records:
                await producer.send(spec.name(prefix), encode(record), key=STREAM.encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def delete_topics(bootstrap: str, prefix: str) -> None:
    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            with contextlib.suppress(KafkaError):
                await admin.delete_topics([spec.name(prefix) for spec in topics.ALL])
        finally:
            await admin.close()

    asyncio.run(run())
