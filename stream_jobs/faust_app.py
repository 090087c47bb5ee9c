"""`chotdon worker`: the stream jobs as a faust-streaming app; run several to share the partitions.

One agent (one instance: concurrency 1, see below) and its table, keyed by stream:

    stream   comments + actions + viewers -> intents, orders, metrics
             table "streams": each stream's order book, product switches and metric windows

Catalogs come from the compacted catalog topic, read whole by every worker (`faust_catalogs`).
What the agent does, and the delivery guarantee, is in `faust_jobs`.

Why these Faust settings: agent concurrency above 1 lets Faust commit an offset past an event
still in flight (faust-streaming/faust#606), so the agent runs one instance and acks its
events in order; exactly_once has open duplicate and recovery bugs (faust-streaming/faust#47),
so the guarantee is at least once with idempotent steps. The table lives in memory, recovered
from its changelog topic after a restart or a rebalance. Table rows are sent to the changelog
topic by the producer itself at checkpoints (not `Table.send_changelog`, whose buffer stalled a
rebalance when a checkpoint wrote hundreds of rows), with the partition of the events they came
from, and their acknowledgement is awaited before the events are acked. Faust itself lost
records around restarts and rebalances: `faust_fixes` patches that.

    chotdon worker --topic-prefix chotdon --partitions 8
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import faust
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from faust import Stream
from faust.types import TP, AppT, TableT

from chotdon import topics
from chotdon.collector import young_generation
from chotdon.kafka_admin import TopicsError, bootstrap_servers, check_topics
from chotdon.log_limits import limit_client_logs
from chotdon.prometheus import WorkerMetrics

from .faust_catalogs import CatalogReader
from .faust_fixes import App
from .faust_jobs import JobConfig, StreamJob
from .worker_config import WorkerConfig

log = logging.getLogger(__name__)

MAX_STATE_BYTES = 32 * 1024 * 1024  # a table row: a book's head, customer or log entry is small
PRODUCE_BATCH_BYTES = 512 * 1024
CHANGELOG_CONFIG = {
    "max.message.bytes": str(MAX_STATE_BYTES),
    # compaction only cleans closed segments: roll them often so the versions of a book that
    # a checkpoint replaced do not pile up for the next recovery to read
    "segment.ms": str(10 * 60 * 1000),
    "segment.bytes": str(64 * 1024 * 1024),
}


def create_app(config: WorkerConfig, worker_metrics: WorkerMetrics | None = None) -> AppT:
    # not Faust's default "<id>-data" in the working directory (memory tables leave it empty)
    datadir = Path(tempfile.gettempdir()) / "chotdon-faust" / config.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = App(
        config.app_id,
        broker=";".join(f"kafka://{s}" for s in bootstrap_servers(config.bootstrap)),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=max(config.session_timeout_s / 4, 0.5),
        producer_max_request_size=MAX_STATE_BYTES,
        # the job hands the client one batch per topic partition per batch of events (up to
        # `batch_size` records of a few hundred bytes): room for it whole, under the topics'
        # 1 MiB message limit; no linger, the batch is as full as it will get
        producer_max_batch_size=PRODUCE_BATCH_BYTES,
        producer_linger=0.0,
        producer_acks=-1,
        # the events queued for the agent: a batch in hand and the next. With Faust's 4,096, a
        # host's action (actions topic) waited behind ~1.5 s of comments in a backlog
        # (benchmarks/action_wait.py)
        stream_buffer_maxsize=2 * config.batch_size,
        stream_wait_empty=True,  # a rebalance waits for the events in flight (checkpointed)
        table_standby_replicas=0,
        web_enabled=config.web_port > 0,
        web_port=config.web_port or 6066,
        web_bind="127.0.0.1",
        autodiscover=False,
        datadir=str(datadir),
    )
    jobs_config = JobConfig(
        prefix=config.prefix,
        batch_size=config.batch_size,
        batch_within=config.batch_within,
        checkpoint_s=config.checkpoint_s,
        metrics=worker_metrics or WorkerMetrics(),
    )
    catalogs = CatalogReader(
        config.bootstrap,
        topics.CATALOG.name(config.prefix),
        config.partitions,
        config.catalog_wait_s,
    )

    def table(name: str) -> TableT[bytes, bytes]:
        return app.Table(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=config.partitions,
            extra_topic_configs=CHANGELOG_CONFIG,
        )

    def source(*specs: topics.TopicSpec) -> Any:
        names = [spec.name(config.prefix) for spec in specs]
        return app.topic(*names, key_type=bytes, value_type=bytes)

    job = StreamJob(app, jobs_config, table("streams"), catalogs)
    comments = source(topics.COMMENTS, topics.ACTIONS, topics.VIEWERS)

    @app.agent(comments, name=job.name, concurrency=1)
    async def stream(events: Any) -> None:
        await job.run(cast(Stream[bytes], events))

    async def read_catalogs() -> None:
        try:
            await catalogs.run()
        except Exception as exc:  # without catalogs, the agents would wait forever
            log.exception("catalogs: %r", exc)
            await app.crash(exc)

    app.task(read_catalogs)

    async def forget_states(_sender: Any, *_args: Any, signal: Any, **_kw: Any) -> None:
        job.forget()

    started = False

    async def say_assigned(_sender: Any, assigned: set[TP], signal: Any, **_kw: Any) -> None:
        nonlocal started
        mine = sorted({tp.partition for tp in assigned if tp.topic.startswith(f"{config.prefix}.")})
        log.info("chotdon worker: partitions %s of %s.*", mine, config.prefix)
        if not started:  # the worker as started (modules, Faust's services): out of the
            started = True  # collections; once, not what a rebalance dropped (`forget_states`)
            gc.collect()
            gc.freeze()

    # mode's handler type names the `signal` keyword by a string mypy does not resolve
    app.on_partitions_revoked.connect(forget_states)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(say_assigned)  # type: ignore[arg-type]

    return app


def run_worker(config: WorkerConfig) -> int:
    """Run until SIGTERM/SIGINT. Exits 2, saying why, when the topics are not as needed."""
    try:
        asyncio.run(
            check_topics(
                config.bootstrap, config.prefix, config.partitions, extra=config.changelogs
            )
        )
    except (KafkaError, TopicsError) as exc:
        print(f"chotdon worker: {exc} (Kafka at {config.bootstrap})", file=sys.stderr)
        return 2
    asyncio.set_event_loop(asyncio.new_event_loop())  # asyncio.run closed its own
    worker_metrics = WorkerMetrics()
    worker_metrics.serve(config.metrics)
    app = create_app(config, worker_metrics)
    limit_client_logs()
    worker = faust.Worker(app, loglevel=config.loglevel, quiet=True)
    # Faust's progress spinner sets the root logger to DEBUG (to spin on every record): every
    # debug call of the clients would build a log record, one per record sent
    worker.spinner = None
    with young_generation():
        worker.execute_from_commandline()
    return 0  # not reached: execute_from_commandline exits
