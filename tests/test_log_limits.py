"""The client log limit: one line per kind of message per window, counting what it held back."""

from __future__ import annotations

import logging

import pytest

from chotdon.log_limits import RepeatLimit, limit_client_logs


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, name: str = "aiokafka", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, "client.py", 1, msg, ("node 1",), None)


def test_a_repeated_message_shows_once_per_window_with_the_count_held_back() -> None:
    clock = Clock()
    limit = RepeatLimit(10.0, clock)
    shown = []
    for second in range(25):  # 25 s of an outage, 100 attempts a second
        clock.now = 100.0 + second
        for _ in range(100):
            r = record("Unable connect to %s")
            if limit.filter(r):
                shown.append(r.getMessage())
    assert len(shown) == 3  # at 0 s, 10 s and 20 s
    assert shown[0] == "Unable connect to node 1"
    assert shown[1].startswith("Unable connect to node 1 (+999 ")  # 10 s x 100 - 1 shown
    assert "more like this in 10 s" in shown[2]


def test_other_messages_levels_and_loggers_are_counted_apart() -> None:
    limit = RepeatLimit(10.0, Clock())
    kinds = [
        record("Unable connect to %s"),
        record("Unable to update metadata from %s"),
        record("Unable connect to %s", level=logging.WARNING),
        record("Unable connect to %s", name="aiokafka.conn"),
    ]
    assert [limit.filter(r) for r in kinds] == [True] * 4
    assert [limit.filter(r) for r in kinds] == [False] * 4


def test_the_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RepeatLimit(0)


def test_the_clients_loggers_and_their_children_get_the_limit() -> None:
    limit = limit_client_logs(window_s=10.0)
    try:
        for name in ("aiokafka", "aiokafka.consumer.fetcher", "aiokafka.producer.sender"):
            assert limit in logging.getLogger(name).filters, name
    finally:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("aiokafka"):
                logging.getLogger(name).removeFilter(limit)
        logging.getLogger("aiokafka").removeFilter(limit)
