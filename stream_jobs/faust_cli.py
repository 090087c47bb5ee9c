"""`chotdon worker`: its flags and settings, without importing Faust (see `faust_app`), so that
the CLI stays quick to start for the other commands."""

from __future__ import annotations

import argparse
import sys

from chotdon.config import add_flags, add_metrics_flag

from .worker_config import WorkerConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `chotdon worker`, for the CLI's sub-parser."""
    add_flags(p, "kafka", "topic_prefix", "partitions")
    p.add_argument(
        "--app-id",
        help="Faust app id: the consumer group and the tables' changelog topic names; workers "
        "with the same id share the work (default: PREFIX-worker)",
    )
    p.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        help="replicas of the tables' changelog topics (default 1)",
    )
    p.add_argument(
        "--web-port", type=int, default=0, help="serve Faust's web views on this port (default off)"
    )
    p.add_argument(
        "--checkpoint",
        type=float,
        default=1.0,
        help="seconds between writes of the tables' state (default 1; 0: every batch)",
    )
    p.add_argument(
        "--catalog-wait",
        type=float,
        default=10.0,
        help="seconds to wait for an unknown stream's catalog before dead-lettering (default 10)",
    )
    p.add_argument(
        "--session-timeout",
        type=float,
        default=10.0,
        help="seconds before a silent worker's partitions go to the others (default 10)",
    )
    p.add_argument("--loglevel", default="info", help="debug, info (default), warning, error")
    add_metrics_flag(p)


def cmd_worker(args: argparse.Namespace) -> int:
    """`chotdon worker` from parsed `add_arguments` flags."""
    if args.partitions < 1:
        print("chotdon worker: --partitions must be >= 1", file=sys.stderr)
        return 2
    from .faust_app import run_worker  # Faust loads in ~0.6 s: only `worker` pays for it

    return run_worker(
        WorkerConfig(
            bootstrap=args.bootstrap,
            prefix=args.topic_prefix,
            partitions=args.partitions,
            app_id=args.app_id or f"{args.topic_prefix}-worker",
            replication_factor=args.replication_factor,
            web_port=args.web_port,
            checkpoint_s=args.checkpoint,
            catalog_wait_s=args.catalog_wait,
            session_timeout_s=args.session_timeout,
            loglevel=args.loglevel,
            metrics=args.metrics,
        )
    )
