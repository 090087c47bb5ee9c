"""Every stream's catalog, read by each worker from the compacted catalog topic.

Each worker reads the whole topic from the beginning with its own consumer (no consumer group,
nothing committed), so every worker knows every catalog, however the partitions are shared, and
a restarted worker knows them again. This is what a Faust GlobalTable would do; a plain consumer
is used because GlobalTable recovery has a history of bugs with several workers
(robinhood/faust#716, faust-streaming/faust#212) and the topic is tiny.

A comment of a stream whose catalog is unknown waits for it, once and for at most `wait_s`
seconds: `chotdon ingest` publishes the catalog before the first record, so only a stream
nobody published a catalog for waits that long; its records are then dead-lettered with that
reason until the catalog arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

from chotdon.catalog import Catalog, CatalogError, parse_catalog
from chotdon.kafka_admin import bootstrap_servers

log = logging.getLogger(__name__)


class CatalogReader:
    def __init__(self, bootstrap: str, topic: str, partitions: int, wait_s: float) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.wait_s = wait_s
        self.catalogs: dict[str, Catalog] = {}
        self.ready = asyncio.Event()  # the topic was read up to its end once
        self._arrived = asyncio.Event()  # pulsed for each catalog read
        self._missing: set[str] = set()  # streams already waited for in vain

    async def get(self, stream: str) -> Catalog | None:
        """The stream's catalog; None when it did not arrive in time (see the module doc)."""
        await self.ready.wait()
        deadline = time.monotonic() + self.wait_s
        while (catalog := self.catalogs.get(stream)) is None:
            left = deadline - time.monotonic()
            if stream in self._missing or left <= 0:
                self._missing.add(stream)
                return None
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        return catalog

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(self.bootstrap),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end: dict[Any, int] = await consumer.end_offsets(tps)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._read(record.key, record.value)
                if not self.ready.is_set() and all(
                    [await consumer.position(tp) >= end[tp] for tp in tps]
                ):
                    log.info("catalogs: %d stream(s) known", len(self.catalogs))
                    self.ready.set()
        finally:
            await consumer.stop()

    def _read(self, key: bytes | None, value: bytes | None) -> None:
        stream = (key or b"").decode("utf-8", "replace")
        if value is None:  # a tombstone: the stream's catalog was withdrawn
            self.catalogs.pop(stream, None)
            return
        try:
            catalog = parse_catalog(json.loads(value))
        except (ValueError, CatalogError) as exc:
            log.warning("catalog of stream %r ignored: %s", stream, exc)
            return
        if catalog.stream != stream:
            log.warning("catalog of stream %r ignored: keyed %r", catalog.stream, stream)
            return
        self.catalogs[stream] = catalog
        self._missing.discard(stream)
        self._arrived.set()
