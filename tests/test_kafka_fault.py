"""Faults on the real broker: a worker killed with SIGKILL mid-stream and restarted, then a second
worker joining (a rebalance), while comments keep coming. The orders must end exactly as the
embedded mode makes them: none lost, none doubled, stock never negative."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

from chotdon import topics
from chotdon.catalog import load_catalog
from chotdon.records import DeadLetter, OrderEvent, StockLevels, encode
from ingest.simulator import simulate, stream_catalogs
from tests.kafka_helpers import (
    WorkerGroup,
    delete_topics,
    final_orders,
    final_stock,
    make_topics,
    new_prefix,
    order_view,
    produce_records,
    read_topic,
    run_embedded,
)

PARTITIONS = 4


def test_kill_restart_and_rebalance_lose_and_double_nothing(
    kafka_broker: str, tmp_path: Path
) -> None:
    catalogs = stream_catalogs([load_catalog("kim-an"), load_catalog("phu-xuyen")], 4)
    records = list(
        simulate(catalogs, rate=8, duration=60, seed=11, start_ts=1_764_230_400.0, order_share=0.3)
    )
    expected = run_embedded(catalogs, records, tmp_path / "embedded.db")
    want_orders = order_view(final_orders(expected))
    want_stock = final_stock(expected)

    prefix = new_prefix("fault")
    make_topics(prefix, PARTITIONS)
    orders_topic = topics.ORDERS.name(prefix)
    workers = WorkerGroup(prefix, PARTITIONS, f"{prefix}-worker", tmp_path)
    wait = workers.wait

    def order_events() -> int:
        return sum(isinstance(r, OrderEvent) for r in read_topic(orders_topic, PARTITIONS).records)

    try:
        first = workers.start("first")
        wait(first.assigned, 30, "the first worker's partitions")
        # 60 s of session at 3x: the faults below happen while comments keep coming
        ingest = threading.Thread(
            target=produce_records, args=(prefix, catalogs, records, 3.0), daemon=True
        )
        ingest.start()

        wait(lambda: order_events() >= 40, 30, "40 order events from the first worker")
        workers.kill(first)
        at_kill = order_events()
        restarted = workers.start("restarted")
        wait(lambda: order_events() >= at_kill + 40, 40, "the restarted worker's progress")
        second = workers.start("second")
        wait(second.assigned, 40, "the second worker's partitions")
        ingest.join(60)
        assert not ingest.is_alive(), "ingest did not finish"
        assert first.proc is not None and first.proc.returncode == -9

        def done() -> bool:
            out = read_topic(orders_topic, PARTITIONS).records
            return order_view(final_orders(out)) == want_orders and final_stock(out) == want_stock

        wait(done, 90, f"the embedded mode's {len(want_orders)} orders and stock levels")
        assert restarted.alive() and second.alive(), workers.logs()
        shared = [restarted.assigned(), second.assigned()]
        assert all(shared), f"not both workers have partitions: {shared}"
        out = read_topic(orders_topic, PARTITIONS).records
        letters = read_topic(topics.DEAD_LETTERS.name(prefix), PARTITIONS).records
    finally:
        workers.stop_all()
        delete_topics(prefix)

    events = [r for r in out if isinstance(r, OrderEvent)]
    by_seq: dict[tuple[str, int], set[bytes]] = defaultdict(set)
    for e in events:
        by_seq[(e.stream, e.seq)].add(encode(e))
    doubled = {k: v for k, v in by_seq.items() if len(v) > 1}
    assert not doubled, f"events with the same (stream, seq) but different content: {doubled}"
    for stream in {e.stream for e in events}:
        seqs = sorted(seq for s, seq in by_seq if s == stream)
        assert seqs == list(range(1, len(seqs) + 1)), f"{stream}: seq numbers missing"

    stock = {c.stream: {p.sku: p.stock for p in c.products} for c in catalogs}
    for levels in (r for r in out if isinstance(r, StockLevels)):
        for part in (levels.remaining, levels.reserved, levels.waiting):
            assert all(q >= 0 for q in part.values()), f"negative stock: {levels}"
    confirmed: dict[tuple[str, str], float] = defaultdict(float)
    for e in final_orders(out).values():
        for line in e.lines:
            if line.status == "confirmed":
                confirmed[(e.stream, line.sku)] += line.qty
    for (stream, sku), qty in confirmed.items():
        assert qty <= stock[stream][sku], f"{stream} {sku}: {qty} confirmed of {stock[stream][sku]}"

    assert not [r for r in letters if isinstance(r, DeadLetter)], letters
    replayed = len(events) - len(by_seq)
    print(f"{len(events)} order events, {replayed} redelivered after the kill (same content)")
