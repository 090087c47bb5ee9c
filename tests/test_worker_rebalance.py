"""A worker's table across rebalances, on the real broker: when a second worker takes some of the
partitions, the first keeps in memory the rows of the partitions it still has and nothing else
(its state gauge sums exactly their rows in the changelog); when the second stops and the
partitions come back, the first restores their books and ends with the embedded mode's orders."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from chotdon import topics
from chotdon.catalog import load_catalog
from ingest.simulator import SimRecord, simulate, stream_catalogs
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
    table_rows,
)
from tests.ports import free_port

PARTITIONS = 4
ALL = ", ".join(map(str, range(PARTITIONS)))


def state_bytes(port: int) -> float | None:
    """The worker's `chotdon_worker_state_bytes` gauge, None before it has one."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "chotdon_worker_state_bytes" and sample.labels["job"] == "stream":
                return float(sample.value)
    return None


def test_a_worker_keeps_no_rows_of_partitions_it_lost_and_restores_them_when_they_return(
    kafka_broker: str, tmp_path: Path
) -> None:
    catalogs = stream_catalogs([load_catalog("kim-an"), load_catalog("phu-xuyen")], 8)
    records = list(
        simulate(catalogs, rate=2, duration=45, seed=5, start_ts=1_764_230_400.0, order_share=0.4)
    )
    third = len(records) // 3
    phases = [records[:third], records[third : 2 * third], records[2 * third :]]

    prefix = new_prefix("rebalance")
    make_topics(prefix, PARTITIONS)
    app_id = f"{prefix}-worker"
    changelog = f"{app_id}-streams-changelog"
    orders_topic = topics.ORDERS.name(prefix)
    port = free_port()
    workers = WorkerGroup(prefix, PARTITIONS, app_id, tmp_path)
    wait = workers.wait

    def orders_as_embedded(sent: list[SimRecord], name: str) -> None:
        expected = run_embedded(catalogs, sent, tmp_path / f"{name}.db")
        want = order_view(final_orders(expected)), final_stock(expected)

        def done() -> bool:
            out = read_topic(orders_topic, PARTITIONS).records
            return (order_view(final_orders(out)), final_stock(out)) == want

        wait(done, 90, f"the embedded mode's orders and stock after {name}")

    def holds_exactly(partitions: str) -> Callable[[], bool]:
        """Whether the worker's state is the changelog's rows of these partitions, no more."""
        mine = {int(p) for p in partitions.split(", ")}

        def check() -> bool:
            rows = table_rows(changelog, PARTITIONS)
            want = sum(len(v) for p in mine for v in rows[p].values())
            return state_bytes(port) == want

        return check

    try:
        first = workers.start("first", "--metrics", f"127.0.0.1:{port}")
        wait(lambda: first.assigned() == ALL, 30, "the first worker's partitions")
        produce_records(prefix, catalogs, phases[0])
        orders_as_embedded(phases[0], "the first third")
        wait(holds_exactly(ALL), 30, "the first worker's state: every partition's rows")

        second = workers.start("second")
        wait(lambda: second.assigned() and first.assigned() != ALL, 40, "a rebalance")
        kept = first.assigned()
        lost = {p for p in range(PARTITIONS) if str(p) not in kept.split(", ")}
        rows = table_rows(changelog, PARTITIONS)
        assert all(rows[p] for p in lost), "the partitions the first worker lost held rows"
        produce_records(prefix, catalogs, phases[1])
        orders_as_embedded(phases[0] + phases[1], "two thirds, on two workers")
        # the state is re-summed at the first checkpoint after the rebalance
        wait(holds_exactly(kept), 30, f"the first worker's state: partitions {kept} only")

        workers.stop(second)  # SIGTERM: its partitions come back to the first worker
        wait(lambda: first.assigned() == ALL, 40, "the partitions back with the first worker")
        produce_records(prefix, catalogs, phases[2])
        orders_as_embedded(records, "the whole session, back on one worker")
        wait(holds_exactly(ALL), 30, "the first worker's state: every partition's rows again")
    finally:
        workers.stop_all()
        delete_topics(prefix)
