"""Looking back at a session, for analysts: export, replay, diff and report.

Everything here reads what a session recorded (the embedded mode's SQLite file, the Kafka topics
of the distributed mode, or files `export` wrote) and never writes where the live pipeline
does: a replay runs the current parser and order book into a SQLite file of its own.

    record ─▶ export (Parquet/CSV/JSONL) ─▶ replay (current parser) ─▶ diff ─▶ report (HTML)
"""
