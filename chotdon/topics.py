"""The Kafka topics of the distributed mode, defined once: name, partitions, configs, records.

Every topic is keyed by stream id, so one livestream's records stay in order on one partition
and livestreams spread over partitions (and workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000
KEEP = {"retention.ms": str(30 * DAY_MS)}  # long enough to replay a month of sessions


@dataclass(frozen=True, slots=True)
class TopicSpec:
    suffix: str
    doc: str
    records: tuple[str, ...]  # record tags it carries
    config: dict[str, str] = field(default_factory=lambda: dict(KEEP))

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.suffix}"


COMMENTS = TopicSpec(
    "comments",
    "what viewers typed, and the product the host showed while they typed (from the source)",
    ("comment", "set_current"),
)
VIEWERS = TopicSpec("viewers", "concurrent viewer counts", ("viewers",))
CATALOG = TopicSpec(
    "catalog",
    "each stream's catalog, the latest per stream (compacted)",
    ("catalog",),
    {"cleanup.policy": "compact"},
)
INTENTS = TopicSpec(
    "intents",
    "parsed comments and the host's order actions, in the order the resolver applies them",
    ("intent", "approve", "reject", "stock"),
)
ORDERS = TopicSpec("orders", "order events and stock levels", ("order", "stock_levels"))
METRICS = TopicSpec("metrics", "windowed live metrics", ("metrics",))
ACTIONS = TopicSpec(
    "actions",
    "the host's actions: current product, review decisions, stock changes",
    ("set_current", "approve", "reject", "stock"),
)
DEAD_LETTERS = TopicSpec(
    "dead-letters", "records that could not be used, with why", ("dead_letter",)
)

ALL = (COMMENTS, VIEWERS, CATALOG, INTENTS, ORDERS, METRICS, ACTIONS, DEAD_LETTERS)
