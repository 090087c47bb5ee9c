"""chotdon: real-time comment-to-order pipeline for Vietnamese livestream selling.

This package holds only what every stage shares: the records that flow between stages
(`chotdon.records`), the catalog model (`chotdon.catalog`), settings (`chotdon.config`)
and the command line (`chotdon.cli`, which loads each command's stage by name). Stages
import from here and from the stages below them only: analytics > stream_jobs > ingest | sinks
> parsers > chotdon; the pure cores (parsing, order resolution, metric aggregation) import no
shell and no I/O library. `make lint` checks both ([tool.importlinter] in pyproject.toml).
"""

__version__ = "0.1.0"
