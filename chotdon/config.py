"""Settings: each declared once with its parser, default, environment variable and doc.

Read them with `settings()`; the CLI's flags default to these, so a person can set either. A
value either way goes through the setting's own parser, so a bad one is the same one-line
message (`SettingError` for the environment, argparse's exit 2 for a flag), never a traceback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Parse = Callable[[str], Any]  # raises argparse.ArgumentTypeError saying what it expected


class SettingError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def text(raw: str) -> str:
    return raw


def integer(low: int, high: int) -> Parse:
    """A whole number from `low` to `high`."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number {low}–{high}, got {raw!r}")
        return value

    parse.__name__ = "integer"
    return parse


port = integer(0, 65535)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    doc: str
    flag: str = ""  # the CLI flag that overrides it, where a person would look for one
    parse: Parse = text

    @property
    def env(self) -> str:
        return "CHOTDON_" + self.name.upper()

    def read(self, environ: Mapping[str, str]) -> Any:
        raw = environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        try:
            return self.parse(raw)
        except argparse.ArgumentTypeError as exc:
            raise SettingError(f"{self.env}: {exc}") from None


SETTINGS: tuple[Setting, ...] = (
    Setting("catalog", "kim-an", "Catalog file (JSON), or the name of a bundled one."),
    Setting("db", "chotdon.db", "the session's SQLite file: orders survive a restart", "--db"),
    Setting("host", "127.0.0.1", "address the host's feed page listens on", "--host"),
    Setting("port", 8080, "port of the host's feed page (0: any free port)", "--port", port),
    Setting(
        "host_token",
        "",
        "token for the host's actions and full phones (default: a random one, printed)",
        "--token",
    ),
    Setting(
        "queue_size",
        1024,
        "records between pipeline stages at most",
        "--queue-size",
        integer(1, 1_000_000),
    ),
    Setting("kafka", "127.0.0.1:9092", "Kafka bootstrap servers", "--bootstrap"),
    Setting("redis", "redis://127.0.0.1:6379/0", "Redis URL", "--redis"),
    Setting("topic_prefix", "chotdon", "prefix of topic names and Redis keys", "--topic-prefix"),
    Setting(
        "partitions",
        8,
        "partitions of every topic: most workers a stage",
        "--partitions",
        integer(1, 10_000),
    ),
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
    Setting(
        "pure",
        0,
        "1: run the parser's pure-Python modules even where its compiled build exists",
        parse=integer(0, 1),
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
            type=s.parse,
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
