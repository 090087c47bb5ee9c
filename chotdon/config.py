"""Settings: each declared once with its type, default, environment variable and doc.

Read them with `settings()`; the CLI's flags default to these, so a person can set either.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    doc: str
    flag: str = ""  # the CLI flag that overrides it, where a person would look for one

    @property
    def env(self) -> str:
        return "CHOTDON_" + self.name.upper()

    def read(self, environ: Mapping[str, str]) -> Any:
        raw = environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        kind = type(self.default)
        try:
            return kind(raw) if kind is not str else raw
        except ValueError as exc:
            raise ValueError(f"{self.env}={raw!r}: expected {kind.__name__}") from exc


SETTINGS: tuple[Setting, ...] = (
    Setting("catalog", "kim-an", "Catalog file (JSON), or the name of a bundled one."),
    Setting("db", "chotdon.db", "the session's SQLite file: orders survive a restart", "--db"),
    Setting("host", "127.0.0.1", "address the host's feed page listens on", "--host"),
    Setting("port", 8080, "port of the host's feed page (0: any free port)", "--port"),
    Setting(
        "host_token",
        "",
        "token for the host's actions and full phones (default: a random one, printed)",
        "--token",
    ),
    Setting("queue_size", 1024, "records between pipeline stages at most", "--queue-size"),
    Setting("kafka", "127.0.0.1:9092", "Kafka bootstrap servers", "--bootstrap"),
    Setting("redis", "redis://127.0.0.1:6379/0", "Redis URL", "--redis"),
    Setting("topic_prefix", "chotdon", "prefix of topic names and Redis keys", "--topic-prefix"),
    Setting("partitions", 8, "partitions of every topic: most workers a stage", "--partitions"),
    Setting(
        "metrics",
        "",
        "HOST:PORT where a worker, sink or connector serves Prometheus /metrics (empty: none)",
        "--metrics",
    ),
    Setting("checkpoint_dir", "checkpoints", "Directory of the connectors' resumable positions."),
    Setting(
        "facebook_graph_url",
        "https://graph.facebook.com/v25.0",
        "Graph API base URL of the Facebook connector (a versioned one; tests point it home).",
    ),
    Setting(
        "youtube_api_url",
        "https://www.googleapis.com/youtube/v3",
        "YouTube Data API v3 base URL of the YouTube connector (tests point it home).",
    ),
    Setting(
        "google_token_url",
        "https://oauth2.googleapis.com/token",
        "Google's OAuth 2.0 token endpoint, where the YouTube token is renewed (tests: a fake).",
    ),
    Setting(
        "shopee_api_url",
        "https://partner.shopeemobile.com",
        "Shopee Open Platform host of the Shopee connector (its test host, or a local fake).",
    ),
)


class Settings:
    """Attribute access to every setting, read once from the environment."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._values = {s.name: s.read(env) for s in SETTINGS}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings(environ)


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *names: str) -> None:
    """Add the CLI flag of each named setting, defaulting to its environment variable."""
    conf = settings()
    for name in names:
        s = next(s for s in SETTINGS if s.name == name)
        parser.add_argument(
            s.flag,
            type=type(s.default),
            default=getattr(conf, name),
            help=f"{s.doc} (env {s.env}; default %(default)s)",
        )


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:8090' -> ("127.0.0.1", 8090); ':8090' is 127.0.0.1 too (keep it local)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def add_metrics_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """`--metrics HOST:PORT`: where the process serves Prometheus /metrics."""
    s = next(s for s in SETTINGS if s.name == "metrics")
    parser.add_argument(
        s.flag,
        type=parse_listen,
        default=settings().metrics or None,
        metavar="HOST:PORT",
        help=f"serve Prometheus /metrics there (env {s.env}; default: not served)",
    )
