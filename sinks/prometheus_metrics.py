"""Prometheus metrics of the pipeline, in a registry of their own (served at /metrics).

The runner calls these per comment, so the labelled children are cached: `labels()` takes a lock
and builds a key on every call, which shows at 20,000 comments/s.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from chotdon.records import OrderEvent

# parsing a comment takes tens of microseconds; a slow one a few milliseconds
PARSE_BUCKETS = (20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.comments = Counter("chotdon_comments", "Comments read", ["stream"], registry=r)
        self.intents = Counter(
            "chotdon_intents", "Comments parsed, by intent", ["stream", "intent"], registry=r
        )
        self.orders = Counter(
            "chotdon_orders", "Order events, by kind", ["stream", "status"], registry=r
        )
        self.revenue = Gauge(
            "chotdon_revenue_vnd", "Confirmed revenue so far (VND)", ["stream"], registry=r
        )
        self.parse_latency = Histogram(
            "chotdon_parse_latency_seconds",
            "Time to parse one comment",
            buckets=PARSE_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "chotdon_queue_depth", "Items waiting in a pipeline queue", ["queue"], registry=r
        )
        self.dead_letters = Counter(
            "chotdon_dead_letters",
            "Inputs skipped as malformed or failing",
            ["source", "reason"],
            registry=r,
        )
        self.feed_subscribers = Gauge(
            "chotdon_feed_subscribers", "Feed pages connected", registry=r
        )
        self._comments: dict[str, Counter] = {}
        self._intents: dict[tuple[str, str], Counter] = {}

    def observe_comment(self, stream: str) -> None:
        child = self._comments.get(stream)
        if child is None:
            child = self._comments[stream] = self.comments.labels(stream)
        child.inc()

    def observe_intent(self, stream: str, kind: str, seconds: float) -> None:
        """One parsed comment: its intent and how long parsing took."""
        child = self._intents.get((stream, kind))
        if child is None:
            child = self._intents[stream, kind] = self.intents.labels(stream, kind)
        child.inc()
        self.parse_latency.observe(seconds)

    def observe_order_event(self, event: OrderEvent) -> None:
        self.orders.labels(event.stream, event.kind).inc()

    def set_revenue(self, stream: str, vnd: int) -> None:
        self.revenue.labels(stream).set(vnd)

    def set_queue_depth(self, name: str, n: int) -> None:
        self.queue_depth.labels(name).set(n)

    def dead_letter(self, source: str, reason: str) -> None:
        self.dead_letters.labels(source, reason).inc()

    def track_feed_subscribers(self, count: Callable[[], float]) -> None:
        """Read the number of open pages at scrape time, e.g. `lambda: hub.subscribers`."""
        self.feed_subscribers.set_function(count)
