"""When the worker writes a stream's state, on the real broker: comments wait for the periodic
checkpoint, a host's order action is checkpointed with its batch (so that a replay after a
crash cannot apply it at another place among the comments)."""

from __future__ import annotations

import time
from pathlib import Path

from chotdon import topics
from chotdon.catalog import load_catalog
from chotdon.records import AdjustStock, Comment, OrderEvent, StockLevels, encode
from tests.kafka_helpers import (
    WorkerProcess,
    delete_topics,
    make_topics,
    new_prefix,
    produce_raw,
    produce_records,
    read_topic,
    wait_until,
)


def changelog_rows(topic: str) -> int:
    read = read_topic(topic, 1)  # book heads, customers and metrics are no records: undecodable
    return len(read.records) + read.undecodable


def test_a_host_order_action_is_checkpointed_at_once(kafka_broker: str, tmp_path: Path) -> None:
    catalog = load_catalog("kim-an")
    stream = catalog.stream
    prefix = new_prefix("ckpt")
    make_topics(prefix, 1)
    app_id = f"{prefix}-worker"
    changelog = f"{app_id}-streams-changelog"
    # state written once a minute: within this test, only the host's action writes it
    worker = WorkerProcess(prefix, 1, app_id, tmp_path / "worker.log", "--checkpoint", "60")
    worker.start()
    try:
        comments = [
            Comment(stream=stream, comment_id=f"c{n}", user_id=f"u{n}", text="chốt 1 A1", ts=n)
            for n in range(1, 4)
        ]
        produce_records(prefix, [catalog], comments)

        def confirmed() -> list[OrderEvent]:
            worker.check_alive()
            out = read_topic(topics.ORDERS.name(prefix), 1).records
            return [r for r in out if isinstance(r, OrderEvent)]

        events = wait_until(lambda: len(e := confirmed()) == 3 and e, 60, "3 order events")
        time.sleep(2)  # the default checkpoint (1 s) would have written the state by now
        assert changelog_rows(changelog) == 0, "state written before its checkpoint was due"

        sku = events[0].lines[0].sku

        def remaining() -> float | None:
            out = read_topic(topics.ORDERS.name(prefix), 1).records
            levels = [r for r in out if isinstance(r, StockLevels)]
            return levels[-1].remaining[sku] if levels else None

        before = remaining()  # (read before the action: the worker may apply it at once)
        assert before is not None
        action = AdjustStock(stream=stream, sku=sku, delta=5, action_id="more-stock")
        produce_raw(topics.ACTIONS.name(prefix), [(stream.encode(), encode(action))])
        wait_until(lambda: remaining() == before + 5, 30, "the stock levels after the action")
        rows = wait_until(lambda: changelog_rows(changelog), 10, "the state, written at once")
        assert rows >= 4, f"{rows} rows: the book's head, its 3 customers and log"
        worker.check_alive()
    finally:
        worker.stop()
        delete_topics(prefix)
