"""Settings: each declared once with its type, default, environment variable and doc.

Read them with `settings()`; the CLI's flags default to these, so a person can set either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    doc: str

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
    Setting("db", "chotdon.db", "The embedded mode's SQLite file: orders survive a restart."),
    Setting("host", "127.0.0.1", "Address the host's feed page listens on."),
    Setting("port", 8080, "Port of the host's feed page (0: any free port)."),
    Setting("host_token", "", "Token for the host's actions and full phones (default: random)."),
    Setting("queue_size", 1024, "Records between pipeline stages at most (back-pressure)."),
    Setting("kafka", "127.0.0.1:9092", "Kafka bootstrap servers (distributed mode)."),
    Setting("redis", "redis://127.0.0.1:6379/0", "Redis URL (distributed mode)."),
    Setting("topic_prefix", "chotdon", "Prefix of every Kafka topic name."),
    Setting("partitions", 8, "Partitions of each topic: the most workers that can share a stage."),
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
