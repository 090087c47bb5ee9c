"""The worker's memory over one long session, beside the embedded mode's on the same input.

    python benchmarks/worker_memory.py [--sizes 10000,50000,200000] [--streams 2]

Each size is one simulated session (the bundled catalogs, 50 comments/s per stream, as
`embedded_scaling.py` makes it) put in Kafka whole, then one `chotdon worker` started; once the
worker has committed every input, its peak and current resident set (VmHWM, VmRSS from /proc)
and its table as the changelog holds it (the rows a restarted worker recovers: the rows left
per key, their bytes, and the largest stream's log rows), then the embedded mode's peak on the
same input (`chotdon run --no-serve --exit-at-end`, in a child process). The last line is what
one more comment costs each mode, from the first size to the last.

Uses the broker of CHOTDON_KAFKA (127.0.0.1 only); creates its own topics and deletes them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from embedded_scaling import embedded, session, status_kb
from kafka_pipeline import drop, local, publish_backlog

from chotdon import topics
from chotdon.config import settings
from chotdon.kafka_admin import bootstrap_servers
from ingest.simulator import write_jsonl
from stream_jobs.faust_jobs import BLOCK, LOG

PARTITIONS = 4


async def committed_all(bootstrap: str, group: str, inputs: dict[TopicPartition, int]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(bootstrap))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # no coordinator yet: the group has not started
        return False
    finally:
        await admin.close()
    return all(tp in offsets and offsets[tp].offset >= end for tp, end in inputs.items())


async def end_offsets(bootstrap: str, names: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(bootstrap))
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for name in names for p in range(PARTITIONS)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return {tp: end for tp, end in ends.items() if end}
    finally:
        await consumer.stop()


class Table:
    """A changelog folded as a recovery folds it: the last value per key, deletions dropped."""

    def __init__(self) -> None:
        self.rows: dict[bytes, bytes] = {}
        self.records = 0

    async def read(self, bootstrap: str, topic: str) -> None:
        ends = await end_offsets(bootstrap, [topic])
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(bootstrap), enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(list(ends))
            await consumer.seek_to_beginning(*ends)
            left = dict(ends)
            while left:
                for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                    for m in messages:
                        self.records += 1
                        if m.value is None:
                            self.rows.pop(m.key, None)
                        else:
                            self.rows[m.key] = m.value
                    if await consumer.position(tp) >= ends[tp]:
                        left.pop(tp, None)
        finally:
            await consumer.stop()

    def mb(self) -> float:
        return sum(len(k) + len(v) for k, v in self.rows.items()) / 1e6

    def log_rows(self) -> int:
        """The log rows (entries and blocks) of the stream that has the most."""
        per: Counter[bytes] = Counter()
        for key in self.rows:
            stream, _, suffix = key.partition(b"\x00")
            if b"\x00" + suffix[:2] in (LOG, BLOCK):
                per[stream] += 1
        return max(per.values(), default=0)


async def worker_session(args: argparse.Namespace, size: int, work: Path) -> tuple[float, ...]:
    """(comments, VmHWM MB, VmRSS MB, table rows, table MB, log rows of a stream, records in the
    changelog) of one worker through a session of `size` comments."""
    records = session(size, args.streams, args.seed)
    with (work / f"session-{size}.jsonl").open("wb") as f:
        write_jsonl(records, f)
    prefix = f"bench-mem-{uuid.uuid4().hex[:6]}"
    await publish_backlog(args.bootstrap, prefix, args.streams, records, PARTITIONS)
    inputs = [spec.name(prefix) for spec in (topics.COMMENTS, topics.ACTIONS, topics.VIEWERS)]
    ends = await end_offsets(args.bootstrap, inputs)
    group = f"{prefix}-worker"
    cmd = [sys.executable, "-m", "chotdon", "worker", "--bootstrap", args.bootstrap]
    cmd += ["--topic-prefix", prefix, "--partitions", str(PARTITIONS), "--loglevel", "warning"]
    with (work / f"worker-{size}.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while not await committed_all(args.bootstrap, group, ends):
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited ({proc.returncode}); log in {work}")
            if time.monotonic() - started > 1800:
                raise SystemExit(f"the worker did not finish in 30 minutes; log in {work}")
            await asyncio.sleep(1)
        peak, now = (status_kb(proc.pid, f) / 1024 for f in ("VmHWM:", "VmRSS:"))
        table = Table()
        await table.read(args.bootstrap, f"{group}-streams-changelog")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        await drop(args.bootstrap, None, prefix)
    comments = sum(1 for r in records if type(r).__name__ == "Comment")
    return comments, peak, now, len(table.rows), table.mb(), table.log_rows(), table.records


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=settings().kafka)
    p.add_argument("--sizes", default="10000,50000,200000", help="comments per session")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()
    local(args.bootstrap)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # leader moves of new topics, retried
    work = Path(tempfile.mkdtemp(prefix="chotdon-worker-memory-"))
    print(f"one worker, {args.streams} streams, {PARTITIONS} partitions; the embedded mode alike")
    print(
        f"{'comments':>9}  {'worker peak':>11} {'now':>6}  {'table rows':>10} {'table':>8}"
        f" {'log rows/stream':>15} {'changelog records':>17}  {'embedded peak':>13}"
    )
    first: tuple[int, float, float] | None = None
    last = first
    for size in (int(s) for s in args.sizes.split(",")):
        comments, peak, now, rows, mb, log_rows, records = asyncio.run(
            worker_session(args, size, work)
        )
        source = work / f"session-{size}.jsonl"
        embedded_mb = embedded(source, work / f"session-{size}.db", args.streams).peak_mb
        source.unlink()
        print(
            f"{comments:>9,}  {peak:>8,.0f} MB {now:>3,.0f} MB  {rows:>10,} {mb:>5,.1f} MB"
            f" {log_rows:>15,} {records:>17,}  {embedded_mb:>10,.0f} MB"
        )
        last = (int(comments), peak, embedded_mb)
        first = first or last
    if first is not None and last is not None and last[0] > first[0]:
        n = last[0] - first[0]
        print(
            f"growth per comment from {first[0]:,} to {last[0]:,}: worker"
            f" {(last[1] - first[1]) * 1048576 / n:,.0f} bytes, embedded"
            f" {(last[2] - first[2]) * 1048576 / n:,.0f} bytes (peak resident set)"
        )
    print(f"(logs in {work})")


if __name__ == "__main__":
    main()
