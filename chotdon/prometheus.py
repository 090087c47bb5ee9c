"""Every Prometheus metric chotdon exposes, declared once: one class per kind of process, each
with a registry of its own (served at /metrics by the feed, or by `serve` on --metrics).

Names follow Prometheus conventions: base units (seconds, bytes, VND), `_total` on counters
(prometheus-client appends it), and label values from bounded sets only: stream and platform
ids, topics, partitions, kinds and reasons from fixed lists — never a comment's text.

Hot paths look their labelled children up through `Children`: `labels()` takes a lock and
builds a key on every call, which shows at thousands of comments/s. What is counted for every
comment or order event (comments, intents, parse failures, parse latency, order events and
their latency) is kept in plain Python values by `TallyCounter` and `TallyHistogram`, custom
collectors read at each scrape: a comment costs a few dict and list updates there, where the
library's metrics take a lock per update.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from chotdon.records import Comment, Intent, OrderEvent, StockLevels, parse_failed

# parsing a comment takes tens of microseconds; a slow one a few milliseconds
PARSE_BUCKETS = (20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3)
# from a comment on the platform to its order on the host's screen: well under a second
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
# a worker's batch or checkpoint: milliseconds, seconds when the broker is slow
STOCK_STATES = ("remaining", "reserved", "waiting")
STEP_BUCKETS = (1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


SOURCE_KINDS = ("stdin", "file", "simulator", "facebook", "youtube", "shopee", "tiktok", "webhook")
REASON_KINDS = {  # a dead letter's reason, by how it starts -> its label
    "line longer than": "too_long",
    "unknown stream": "unknown_stream",
    "internal error": "internal",
    "JSON is malformed": "bad_json",
    "Input data was truncated": "bad_json",
}


def source_kind(source: str) -> str:
    """The label of a source's name: file:/home/…/x.jsonl is "file", stdin@2026-… "stdin" (a
    path or stream name may hold a phone, and is unbounded)."""
    kind = source.split(":", 1)[0].split("@", 1)[0]
    return kind if kind in SOURCE_KINDS else "other"


def reason_kind(reason: str) -> str:
    """The label of a dead letter's reason: "unknown stream 'x'" is "unknown_stream"."""
    return next((k for start, k in REASON_KINDS.items() if reason.startswith(start)), "invalid")


M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """A labelled metric's children, each looked up once: `children(*values)` is
    `metric.labels(*values)` without its lock and key building. As bounded as the metric's
    label values are (fixed sets, see above)."""

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class TallyCounter:
    """A counter kept in a dict by label values, for what is counted once per comment: `add` is
    one dict update (no lock: one thread counts; a scrape from another thread copies the dict
    in one step). Exposed as `<name>_total`, like the library's Counter."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name, self.documentation, self.labels = name, documentation, tuple(labels)
        self.counts: dict[tuple[str, ...], float] = {}
        registry.register(self)

    def add(self, *values: str) -> None:
        self.counts[values] = self.counts.get(values, 0) + 1

    def keep(self, *values: str) -> None:
        """Expose these label values from now on, at 0 until counted."""
        self.counts.setdefault(values, 0)

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> list[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, count in list(self.counts.items()):
            family.add_metric(values, count)
        return [family]


class TallyHistogram:
    """A histogram without labels kept in a list of bucket counts: `observe` is a bisection and
    two additions (the library's Histogram takes a lock per bucket and walks the bounds)."""

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = tuple(buckets)
        self.les = [*map(floatToGoString, self.bounds), "+Inf"]  # as the library writes them
        self.counts = [0] * len(self.les)  # the last: above every bound
        self.sum = 0.0
        registry.register(self)

    def observe(self, amount: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1  # a bucket counts up to its le
        self.sum += amount

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation)]

    def collect(self) -> list[Metric]:
        counts, total = list(self.counts), self.sum
        buckets = list(zip(self.les, itertools.accumulate(counts), strict=True))
        return [HistogramMetricFamily(self.name, self.documentation, buckets, sum_value=total)]


class Metrics:
    """A process's metrics and their registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()

    def serve(self, listen: tuple[str, int] | None) -> None:
        """Serve /metrics on (host, port) from a thread (None: do not serve)."""
        if listen is not None:
            host, port = listen
            try:
                start_http_server(port, addr=host, registry=self.registry)
            except OSError as exc:  # taken, or not an address of this machine
                raise SystemExit(f"chotdon: cannot serve /metrics on {host}:{port}: {exc}") from exc


class LatencyMetrics(Metrics):
    """What a process that makes order events visible to the host measures."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.order_latency = TallyHistogram(
            "chotdon_order_latency_seconds",
            "From a comment's platform time to its order event being visible to the host",
            LATENCY_BUCKETS,
            self.registry,
        )

    def observe_visible(self, event: OrderEvent, now: float | None = None) -> None:
        """The event is now visible to the host: how long since its comment was written."""
        wall = time.time() if now is None else now
        self.order_latency.observe(max(0.0, wall - event.ts))


class DeadLetterMetrics(Metrics):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.dead_letters = Counter(
            "chotdon_dead_letters",
            "Inputs skipped as malformed or failing, by where they came from and why",
            ["source", "reason"],
            registry=self.registry,
        )

        self._dead_letters = Children(self.dead_letters)

    def dead_letter(self, source: str, reason: str) -> None:
        self._dead_letters(source, reason).inc()


class StreamMetrics(DeadLetterMetrics):
    """The stream work, wherever it runs: the embedded runner or the worker."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.comments = TallyCounter("chotdon_comments", "Comments read", ["stream"], r)
        self.intents = TallyCounter(
            "chotdon_intents", "Comments parsed, by intent", ["stream", "intent"], r
        )
        self.orders = TallyCounter(
            "chotdon_orders", "Order events, by kind", ["stream", "status"], r
        )
        self.parse_latency = TallyHistogram(
            "chotdon_parse_latency_seconds", "Time to parse one comment", PARSE_BUCKETS, r
        )
        self.parse_errors = TallyCounter(
            "chotdon_parse_errors",
            "Comments the parser failed on (read as 'other'; the log has the traceback)",
            ["stream"],
            r,
        )

    def observe_comment(self, stream: str) -> None:
        self.comments.add(stream)
        self.parse_errors.keep(stream)  # a stream's parser failures are 0, not absent

    def observe_intent(self, stream: str, kind: str, seconds: float, failed: bool = False) -> None:
        """One parsed comment: its intent, how long it took, whether the parser failed on it."""
        self.intents.add(stream, kind)
        if failed:
            self.parse_errors.add(stream)
        self.parse_latency.observe(seconds)

    def observe_parse(self, parse: Callable[[Comment], Intent], comment: Comment) -> Intent:
        """`parse(comment)`, counted: the comment, its intent, the time the parse took and whether
        the parser failed on it."""
        started = time.perf_counter()
        intent = parse(comment)
        took = time.perf_counter() - started
        self.observe_comment(comment.stream)
        self.observe_intent(comment.stream, intent.intent, took, failed=parse_failed(intent))
        return intent

    def observe_order_event(self, event: OrderEvent) -> None:
        self.orders.add(event.stream, event.kind)


class FeedMetrics(LatencyMetrics):
    """The host's feed, in the embedded runner or on its own (`chotdon feed`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.revenue = Gauge(
            "chotdon_revenue_vnd", "Confirmed revenue so far (VND)", ["stream"], registry=r
        )
        self.revenue_target = Gauge(
            "chotdon_revenue_target_vnd",
            "The session's revenue target (VND)",
            ["stream"],
            registry=r,
        )
        self.feed_subscribers = Gauge(
            "chotdon_feed_subscribers", "Feed pages connected", registry=r
        )
        self.feed_connections = Counter(
            "chotdon_feed_connections",
            "Feed pages that connected (event streams opened)",
            registry=r,
        )
        self.feed_events = Counter(
            "chotdon_feed_events", "Events pushed to open feed pages, by kind", ["kind"], registry=r
        )
        self.stock = Gauge(
            "chotdon_stock",
            'Stock by state (remaining, reserved, waiting): of each product whole (variant "")'
            " and of each variant with stock of its own",
            ["stream", "sku", "variant", "state"],
            registry=r,
        )

        self._revenue = Children(self.revenue)
        self._revenue_target = Children(self.revenue_target)
        self._stock = Children(self.stock)
        self.feed_events_of = Children(self.feed_events)

    def set_revenue(self, stream: str, vnd: int, target: int) -> None:
        self._revenue(stream).set(vnd)
        self._revenue_target(stream).set(target)

    def set_stock(self, levels: StockLevels) -> None:
        stream = levels.stream
        for sku, remaining in levels.remaining.items():
            figures = (remaining, levels.reserved.get(sku, 0), levels.waiting.get(sku, 0))
            for state, value in zip(STOCK_STATES, figures, strict=True):
                self._stock(stream, sku, "", state).set(value)
        for v in levels.variants:
            for state, value in zip(
                STOCK_STATES, (v.remaining, v.reserved, v.waiting), strict=True
            ):
                self._stock(stream, v.sku, v.variant, state).set(value)

    def track_feed_subscribers(self, count: Callable[[], float]) -> None:
        """Read the number of open pages at scrape time, e.g. `lambda: hub.subscribers`."""
        self.feed_subscribers.set_function(count)


class PipelineMetrics(StreamMetrics, FeedMetrics):
    """The embedded runner (`chotdon run`, `demo`): the stream work, its queues and the feed."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.queue_depth = Gauge(
            "chotdon_queue_depth",
            "Items waiting in a pipeline queue",
            ["queue"],
            registry=self.registry,
        )

        self._queue_depth = Children(self.queue_depth)

    def set_queue_depth(self, name: str, n: int) -> None:
        self._queue_depth(name).set(n)


class WorkerMetrics(StreamMetrics):
    """A stream-jobs worker (`chotdon worker`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.records_in = Counter(
            "chotdon_worker_records_in", "Records read, by topic", ["topic"], registry=r
        )
        self.records_out = Counter(
            "chotdon_worker_records_out", "Records sent, by topic", ["topic"], registry=r
        )
        self.batch_duration = Histogram(
            "chotdon_worker_batch_duration_seconds",
            "Time to handle a batch of records and send its outputs, by job",
            ["job"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.checkpoint_duration = Histogram(
            "chotdon_worker_checkpoint_duration_seconds",
            "Time to write a job's state to its changelog and ack its inputs",
            ["job"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "chotdon_worker_consumer_lag_records",
            "Records of a partition not yet read by this worker",
            ["topic", "partition"],
            registry=r,
        )
        self.state_bytes = Gauge(
            "chotdon_worker_state_bytes",
            "Size of a job's state as last written to its changelog",
            ["job"],
            registry=r,
        )


class SinkMetrics(LatencyMetrics, DeadLetterMetrics):
    """The Redis sink (`chotdon sink redis`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.applied = Counter(
            "chotdon_sink_applied", "Records that changed Redis, by type", ["record"], registry=r
        )
        self.duplicates = Counter(
            "chotdon_sink_duplicates",
            "Records Redis already had (re-delivered or older), by type",
            ["record"],
            registry=r,
        )
        self.applied_by, self.duplicates_by = Children(self.applied), Children(self.duplicates)
        self.consumer_lag = Gauge(
            "chotdon_sink_consumer_lag_records",
            "Records of a partition not yet stored in Redis",
            ["topic", "partition"],
            registry=r,
        )
        self.redis_up = Gauge(
            "chotdon_sink_redis_up",
            "1 while Redis answers the sink (writes and a ping every few seconds), else 0",
            registry=r,
        )
        self.kafka_up = Gauge(
            "chotdon_sink_kafka_up",
            "1 while a Kafka broker answers the sink's metadata requests, else 0",
            registry=r,
        )
        self.rebuilds = Counter(
            "chotdon_sink_redis_rebuilds",
            "Times Redis had lost data (restarted empty, a replica behind) and the sink read "
            "its partitions again from Kafka",
            registry=r,
        )


class ConnectorMetrics(Metrics):
    """A live-platform connector (`chotdon ingest PLATFORM --metrics HOST:PORT`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        labels = ("platform", "stream")
        self.comments = Counter("chotdon_ingest_comments", "Comments received", labels, registry=r)
        self.duplicates = Counter(
            "chotdon_ingest_duplicates", "Duplicates dropped", labels, registry=r
        )
        self.polls = Counter(
            "chotdon_ingest_polls", "Polls or connections made", labels, registry=r
        )
        self.errors = Counter(
            "chotdon_ingest_errors", "Errors by kind", (*labels, "kind"), registry=r
        )
        self.malformed = Counter(
            "chotdon_ingest_malformed", "Malformed payloads skipped", labels, registry=r
        )
        self.lag = Gauge(
            "chotdon_ingest_lag_seconds", "Behind the platform's clock", labels, registry=r
        )
        self.state = Gauge(
            "chotdon_ingest_session_state",
            "1 live, 0 stopped (ended, auth or quota), -1 backing off",
            labels,
            registry=r,
        )
        self.last_comment = Gauge(
            "chotdon_ingest_last_comment_timestamp_seconds",
            "When the last new comment arrived (unix seconds)",
            labels,
            registry=r,
        )
        self.quota_left = Gauge(
            "chotdon_ingest_quota_remaining_ratio",
            "Share of the platform's rate limit or quota still free (1 all, 0 none)",
            labels,
            registry=r,
        )
        self.token_expiry = Gauge(
            "chotdon_ingest_token_expiry_seconds",
            "Seconds until the connector's access token expires (renewed 5 minutes before; "
            "negative: expired). Only connectors that renew their token (YouTube OAuth, Shopee)",
            labels,
            registry=r,
        )
        self.token_renewal_failed = Gauge(
            "chotdon_ingest_token_renewal_failed",
            "1 when the last renewal of the access token failed (refused, network, 5xx), else 0",
            labels,
            registry=r,
        )

    def track_token(
        self,
        platform: str,
        stream: str,
        seconds_left: Callable[[], float],
        failed: Callable[[], bool],
    ) -> None:
        """Read a renewed token's state at scrape time (`RefreshingToken.seconds_left`...)."""
        self.token_expiry.labels(platform, stream).set_function(seconds_left)
        self.token_renewal_failed.labels(platform, stream).set_function(lambda: float(failed()))
