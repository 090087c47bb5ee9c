"""chotdon: real-time comment-to-order pipeline for Vietnamese livestream selling.

This package holds only what every stage shares: the records that flow between stages
(`chotdon.records`), the catalog model (`chotdon.catalog`), settings (`chotdon.config`)
and the command line (`chotdon.cli`). Stage packages (`parsers`, `stream_jobs`, `ingest`,
`sinks`) import from here and never from each other's internals.
"""

__version__ = "0.1.0"
