"""The distributed pipeline on the real broker: ingest -> Kafka -> worker -> orders and metrics.

One worker and one set of topics serve the tests of this module; each test uses its own
streams, so they do not see each other's records.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chotdon import topics
from chotdon.catalog import Catalog, load_catalog, parse_catalog
from chotdon.records import (
    AdjustStock,
    Comment,
    DeadLetter,
    OrderEvent,
    SetCurrent,
    StockLevels,
    VariantStock,
    ViewerCount,
    encode,
)
from ingest.simulator import demo_records
from ingest.sources import SourceRecord
from stream_jobs.metrics import snapshots
from tests.kafka_helpers import (
    ROOT,
    WorkerProcess,
    delete_topics,
    final_orders,
    final_stock,
    make_topics,
    metric_totals,
    new_prefix,
    order_view,
    produce_raw,
    produce_records,
    read_topic,
    run_embedded,
    wait_until,
)

PARTITIONS = 2


@dataclass
class Pipeline:
    prefix: str
    worker: WorkerProcess

    def topic(self, spec: topics.TopicSpec) -> str:
        return spec.name(self.prefix)

    def read(self, spec: topics.TopicSpec, stream: str) -> list[Any]:
        """The records of one stream on a topic, in partition order."""
        out = []
        for r in read_topic(self.topic(spec), PARTITIONS).records:
            owner = getattr(r, "stream", None) or getattr(getattr(r, "comment", None), "stream", "")
            if owner == stream:
                out.append(r)
        return out

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        def check_running() -> Any:
            self.worker.check_alive()
            return check()

        try:
            return wait_until(check_running, timeout, what)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- worker log ---\n{self.worker.log()[-3000:]}"
            ) from None


@pytest.fixture(scope="module")
def pipeline(kafka_broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    prefix = new_prefix("pipe")
    make_topics(prefix, PARTITIONS)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = WorkerProcess(
        prefix, PARTITIONS, f"{prefix}-worker", log, "--catalog-wait", "2"
    ).start()
    try:
        yield Pipeline(prefix, worker)
    finally:
        worker.stop()
        delete_topics(prefix)


def renamed(catalog: Catalog, stream: str) -> Catalog:
    return msgspec.structs.replace(catalog, stream=stream)


def test_comments_become_orders_and_metrics(pipeline: Pipeline) -> None:
    stream = f"e2e-{uuid.uuid4().hex[:6]}"
    catalog = renamed(load_catalog("kim-an"), stream)
    t0 = 1_764_230_400.0

    def comment(n: int, user: str, text: str, at: float) -> Comment:
        return Comment(stream=stream, comment_id=f"c{n}", user_id=user, text=text, ts=t0 + at)

    records: list[SourceRecord] = [
        ViewerCount(stream=stream, viewers=100, ts=t0),
        SetCurrent(stream=stream, code="A3", ts=t0 + 1),
        comment(1, "u1", "lấy 1", 2),  # the current product: a bottle of juice
        comment(2, "u2", "sdt 0912 345 678 lấy 3kg ổi", 3),
        comment(3, "u3", "chốt 25 hộp quà", 4),  # 30 in stock
        comment(4, "u4", "shop ơi còn hàng ko", 5),
        comment(5, "u7", "chốt 10 hộp quà", 6),  # 5 left: the line waits
        comment(6, "u3", "huỷ đơn", 7),  # frees 25: u7's line is confirmed
        ViewerCount(stream=stream, viewers=150, ts=t0 + 12),
        comment(7, "u5", "chốt 2 lá dong", 13),
        comment(8, "u6", "+1", 25),
    ]
    produce_records(pipeline.prefix, [catalog], records)

    expected = {
        "u1": ([("NUOC-OI", 1, "confirmed")], 25_000, None),
        "u2": ([("OI-KG", 3, "confirmed")], 90_000, "0912345678"),
        "u3": ([], 0, None),
        "u7": ([("QUA-OI", 10, "confirmed")], 1_500_000, None),
        "u5": ([("LA-DONG", 2, "confirmed")], 80_000, None),
        "u6": ([("NUOC-OI", 1, "confirmed")], 25_000, None),
    }

    def orders() -> dict[str, object] | None:
        latest = final_orders(pipeline.read(topics.ORDERS, stream))
        got: dict[str, object] = {
            e.customer.split(":")[1]: (
                [(x.sku, x.qty, x.status) for x in e.lines],
                e.total,
                e.phone,
            )
            for e in latest.values()
        }
        return got if got == expected else None

    pipeline.wait(orders, 30, f"the orders of {stream}: {expected}")

    events = [r for r in pipeline.read(topics.ORDERS, stream) if isinstance(r, OrderEvent)]
    assert {e.kind for e in events} >= {"confirmed", "waitlisted", "cancelled"}
    levels = [r for r in pipeline.read(topics.ORDERS, stream) if isinstance(r, StockLevels)]
    assert levels[-1].remaining["QUA-OI"] == 20 and levels[-1].reserved["QUA-OI"] == 10
    assert levels[-1].remaining["NUOC-OI"] == 98 and levels[-1].waiting == {}

    want = {
        "comments": 8,
        "orders": 5,  # u3's order was cancelled: it does not count (chotdon.figures)
        "cancelled": 1,
        "revenue": 25_000 + 90_000 + 1_500_000 + 80_000 + 25_000,
        "intents": {
            "order": 6,
            "change": 0,
            "cancel": 1,
            "question": 1,
            "contact": 0,
            "other": 0,
        },
        "peak": 150,
    }

    def metrics() -> bool:
        totals = metric_totals(pipeline.read(topics.METRICS, stream))
        return totals.get((stream, 10)) == want and totals.get((stream, 60)) == want

    pipeline.wait(metrics, 30, f"the metric totals of {stream}: {want}")

    # The host's actions: what is shown now, and 15 gift boxes less (found broken). The
    # actions topic is not ordered with the comments topic: the comment goes once the stock
    # change, sent after the switch, shows (the worker reads the actions topic in order).
    produce_raw(
        pipeline.topic(topics.ACTIONS),
        [
            (stream.encode(), encode(SetCurrent(stream=stream, code="A4", ts=t0 + 30))),
            (stream.encode(), encode(AdjustStock(stream=stream, sku="QUA-OI", delta=-15))),
        ],
    )

    def stock_removed() -> bool:
        levels = [r for r in pipeline.read(topics.ORDERS, stream) if isinstance(r, StockLevels)]
        return levels[-1].remaining["QUA-OI"] == 5

    pipeline.wait(stock_removed, 30, "the host's stock change")
    produce_records(pipeline.prefix, [catalog], [comment(9, "u9", "lấy 2", 31)])
    expected["u9"] = ([("LA-DONG", 2, "confirmed")], 80_000, None)  # the host's current product
    pipeline.wait(orders, 30, f"the order of a comment after the host's switch: {expected}")


def test_demo_session_gives_the_embedded_results(pipeline: Pipeline, tmp_path: Path) -> None:
    catalog = load_catalog("kim-an")
    records = list(demo_records())
    expected = run_embedded([catalog], records, tmp_path / "embedded.db")
    want_orders = order_view(final_orders(expected))
    want_stock = final_stock(expected)
    want_metrics = metric_totals(snapshots(expected))
    assert len(want_orders) > 50  # the session does order things

    produce_records(pipeline.prefix, [catalog], records)
    stream = catalog.stream

    def same_book() -> bool:
        out = pipeline.read(topics.ORDERS, stream)
        got_orders = order_view(final_orders(out))
        return got_orders == want_orders and final_stock(out) == want_stock

    pipeline.wait(same_book, 60, f"the embedded mode's {len(want_orders)} orders and stock")

    def same_metrics() -> bool:
        return metric_totals(pipeline.read(topics.METRICS, stream)) == want_metrics

    pipeline.wait(same_metrics, 30, f"the embedded mode's metric totals {want_metrics}")
    letters = read_topic(pipeline.topic(topics.DEAD_LETTERS), PARTITIONS).records
    assert [r for r in letters if isinstance(r, DeadLetter) and stream in r.raw] == []


def test_bad_records_are_dead_lettered_and_the_stream_goes_on(pipeline: Pipeline) -> None:
    stream = f"bad-{uuid.uuid4().hex[:6]}"
    key = stream.encode()
    catalog = renamed(load_catalog("kim-an"), stream)
    produce_records(pipeline.prefix, [catalog], [SetCurrent(stream=stream, code="A3", ts=1.0)])

    def good(n: int) -> bytes:
        return encode(
            Comment(stream=stream, comment_id=f"g{n}", user_id=f"u{n}", text="lấy 1", ts=2.0 + n)
        )

    produce_raw(
        pipeline.topic(topics.COMMENTS),
        [
            (key, good(1)),
            (key, b"\xff\xfe\x00 not json at all"),
            (key, b'{"type": "comment", "v": 1, "stream": "' + key + b'"}'),
            (key, b'{"type": "sticker", "v": 1, "stream": "x"}'),
            (key, encode(ViewerCount(stream=stream, viewers=5, ts=3.0))),
            (b"someone-else", good(9)),
            (key, good(2)),
            (
                b"no-catalog",
                encode(
                    Comment(stream="no-catalog", comment_id="n1", user_id="u", text="lấy 1", ts=1.0)
                ),
            ),
        ],
    )
    produce_raw(
        pipeline.topic(topics.ACTIONS),
        [(key, encode(AdjustStock(stream=stream, sku="NOPE", delta=1, action_id="bad-sku")))],
    )

    def letters() -> list[DeadLetter]:
        all_letters = read_topic(pipeline.topic(topics.DEAD_LETTERS), PARTITIONS).records
        mine = [
            r
            for r in all_letters
            if isinstance(r, DeadLetter)
            and (stream in r.raw or "not json" in r.raw or "sticker" in r.raw or "no-cat" in r.raw)
        ]
        return mine if len(mine) == 7 else []

    found = pipeline.wait(letters, 30, "7 dead letters")
    reasons = sorted(r.reason for r in found)
    sources = {r.source for r in found}
    # the refused host action is dead-lettered from the topic the host wrote it to
    assert sources == {pipeline.topic(topics.COMMENTS), pipeline.topic(topics.ACTIONS)}, sources
    assert sum("undecodable record" in r for r in reasons) == 3, reasons
    assert any("no catalog for stream 'no-catalog'" in r for r in reasons), reasons
    assert any("host action refused" in r and "NOPE" in r for r in reasons), reasons
    assert any("missing required field" in r for r in reasons), reasons
    assert any("'viewers' record does not belong on topic" in r for r in reasons), reasons
    assert any("keyed 'someone-else', not by its stream" in r for r in reasons), reasons
    garbage = next(r for r in found if "not json" in r.raw)
    assert garbage.raw.startswith("\\xff\\xfe")  # undecodable bytes escaped
    assert "/" in garbage.position

    def both_orders() -> bool:
        latest = final_orders(pipeline.read(topics.ORDERS, stream))
        return sorted(e.customer for e in latest.values()) == ["file:u1", "file:u2"]

    pipeline.wait(both_orders, 30, "the orders of the good comments before and after the bad ones")


def test_the_workers_keep_stock_and_prices_per_variant(pipeline: Pipeline) -> None:
    """The catalog crosses Kafka with its options: size 43 owns two pairs at its own price, the
    red bag has only its own price; the worker reserves, waitlists and promotes per variant."""
    stream = f"variants-{uuid.uuid4().hex[:6]}"
    document = json.loads((ROOT / "chotdon" / "data" / "phu-xuyen.json").read_text("utf-8"))
    document["stream"] = stream
    shoes, bag = document["products"][0], document["products"][1]
    shoes["options"] = [{"variant": "43", "price": 480_000, "stock": 2}]
    bag["options"] = [{"variant": "đỏ", "price": 390_000}]
    catalog = parse_catalog(document)
    t0 = 1_764_230_400.0

    def comment(n: int, user: str, text: str) -> Comment:
        return Comment(stream=stream, comment_id=f"c{n}", user_id=user, text=text, ts=t0 + n)

    produce_records(
        pipeline.prefix,
        [catalog],
        [
            comment(1, "u1", "chốt 2 giày 43"),
            comment(2, "u2", "lấy 1 đôi giày size 43"),  # none of 43 left: waits
            comment(3, "u3", "giày size 40 x1"),  # the shoes' shared stock
            comment(4, "u4", "1 túi xách màu đỏ"),
        ],
    )
    expected = {
        "u1": ([("GIAY-DA", "43", 2, 480_000, "confirmed")], 960_000),
        "u2": ([("GIAY-DA", "43", 1, 480_000, "waitlisted")], 0),
        "u3": ([("GIAY-DA", "40", 1, 450_000, "confirmed")], 450_000),
        "u4": ([("TUI-XACH", "đỏ", 1, 390_000, "confirmed")], 390_000),
    }

    def orders() -> bool:
        latest = final_orders(pipeline.read(topics.ORDERS, stream))
        got = {
            e.customer.split(":")[1]: (
                [(x.sku, x.variant, x.qty, x.unit_price, x.status) for x in e.lines],
                e.total,
            )
            for e in latest.values()
        }
        return got == expected

    pipeline.wait(orders, 30, f"the orders of {stream}: {expected}")

    stock = AdjustStock(stream=stream, sku="GIAY-DA", variant="43", delta=1, action_id="k1")
    produce_raw(pipeline.topic(topics.ACTIONS), [(stream.encode(), encode(stock))])
    expected["u2"] = ([("GIAY-DA", "43", 1, 480_000, "confirmed")], 480_000)
    pipeline.wait(orders, 30, "the waiting pair of 43 promoted by the host's stock")

    levels = [r for r in pipeline.read(topics.ORDERS, stream) if isinstance(r, StockLevels)]
    assert levels[-1].variants == [
        VariantStock(sku="GIAY-DA", variant="43", remaining=0, reserved=3, waiting=0)
    ]
    assert levels[-1].remaining["GIAY-DA"] == 39 and levels[-1].reserved["GIAY-DA"] == 4
