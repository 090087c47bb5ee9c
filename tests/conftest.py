"""Shared fixtures: the services the distributed-mode tests run against.

A test that needs a service asks for its fixture. When the service does not answer, the test is
skipped locally, saying how to start it, and fails in CI (env CI set), where a missing service
is a broken setup, not a reason to pass. Kept light: every test session imports this file.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from hypothesis import settings as hypothesis_settings

from chotdon.config import settings

# Speed is measured by benchmarks, not asserted in tests: no per-example deadline, which only
# fails property tests on a busy machine.
hypothesis_settings.register_profile("chotdon", deadline=None)
hypothesis_settings.load_profile("chotdon")


def require_service(name: str, answers: bool, how_to_start: str) -> None:
    if answers:
        return
    message = f"{name} does not answer; start it with: {how_to_start}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def kafka_answers(bootstrap: str) -> bool:
    """A Kafka broker, not just anything, listens there: it answers a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return False

    async def metadata() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    try:
        asyncio.run(asyncio.wait_for(metadata(), 10))
    except (KafkaError, OSError, TimeoutError):
        return False
    return True


@pytest.fixture(scope="session")
def kafka_broker() -> str:
    """The bootstrap address of a running Kafka broker (env CHOTDON_KAFKA)."""
    bootstrap: str = settings().kafka
    require_service(f"Kafka at {bootstrap}", kafka_answers(bootstrap), "deploy/kafka/broker start")
    return bootstrap
