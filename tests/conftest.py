"""Shared fixtures: the services the distributed-mode tests run against.

A test that needs a service asks for its fixture. When the service does not answer, the test is
skipped locally, saying how to start it, and fails in CI (env CI set), where a missing service
is a broken setup, not a reason to pass.
"""

from __future__ import annotations

import os

import pytest

from tests.kafka_helpers import BOOTSTRAP, broker_answers


def require_service(name: str, answers: bool, how_to_start: str) -> None:
    if answers:
        return
    message = f"{name} does not answer; start it with: {how_to_start}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_broker() -> str:
    """The bootstrap address of a running Kafka broker."""
    require_service(f"Kafka at {BOOTSTRAP}", broker_answers(BOOTSTRAP), "deploy/kafka/broker start")
    return BOOTSTRAP
