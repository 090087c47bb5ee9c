"""Outputs: the host's live feed, SQLite (embedded) and Redis (distributed), Prometheus, exports."""
