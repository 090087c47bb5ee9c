"""The settings of a worker process (`chotdon worker`), shared by its CLI (`faust_cli`, which
loads no Faust) and the Faust app (`faust_app`)."""

from __future__ import annotations

from dataclasses import dataclass

TABLES = ("streams",)
BATCH_SIZE = 500  # records the agent handles at most as one batch (one produce, one ack wait)
# seconds a batch waits for more records once its first came: none, it takes what the consumer
# holds (under load that is a full batch; a light load is not held back to fill one)
BATCH_WITHIN = 0.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    bootstrap: str
    prefix: str
    partitions: int
    app_id: str
    replication_factor: int = 1
    web_port: int = 0  # 0: no web server (several workers on one machine would clash)
    batch_size: int = BATCH_SIZE
    batch_within: float = BATCH_WITHIN
    checkpoint_s: float = 1.0
    catalog_wait_s: float = 10.0
    session_timeout_s: float = 10.0  # how soon a dead worker's partitions move
    loglevel: str = "info"
    metrics: tuple[str, int] | None = None  # where to serve Prometheus /metrics

    @property
    def changelogs(self) -> list[str]:
        return [f"{self.app_id}-{table}-changelog" for table in TABLES]
