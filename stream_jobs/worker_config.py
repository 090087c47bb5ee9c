"""The settings of a worker process (`chotdon worker`), shared by its CLI (`faust_cli`, which
loads no Faust) and the Faust app (`faust_app`)."""

from __future__ import annotations

from dataclasses import dataclass

TABLES = ("streams",)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    bootstrap: str
    prefix: str
    partitions: int
    app_id: str
    replication_factor: int = 1
    web_port: int = 0  # 0: no web server (several workers on one machine would clash)
    batch_size: int = 500
    batch_within: float = 0.05
    checkpoint_s: float = 1.0
    catalog_wait_s: float = 10.0
    session_timeout_s: float = 10.0  # how soon a dead worker's partitions move
    loglevel: str = "info"
    metrics: tuple[str, int] | None = None  # where to serve Prometheus /metrics

    @property
    def changelogs(self) -> list[str]:
        return [f"{self.app_id}-{table}-changelog" for table in TABLES]
