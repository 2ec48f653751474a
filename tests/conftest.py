"""Shared test fixtures, and the session's embedded Redis.

One embedded Valkey (:class:`EmbeddedRedis`) serves the whole session. It is started
when this root conftest is imported -- before any other conftest or test module, which
``pytest_configure`` is not: pytest imports the conftests of the paths it is given
first -- and its URL is exported as ``TIERSTREAM_REDIS_URL``, so module constants,
``Settings()`` and every worker the tests spawn use it. No test depends on a Redis
already running on the machine. ``TIERSTREAM_DEV_FILE`` points to a path that does
not exist, so the client commands never find the endpoints of a ``tierstream dev``
the user runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.streaming import Stream
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.dev.valkey import EmbeddedRedis

_session_redis = EmbeddedRedis().start()
os.environ["TIERSTREAM_REDIS_URL"] = _session_redis.url
os.environ["TIERSTREAM_DEV_FILE"] = str(Path(tempfile.gettempdir()) / f"tierstream-tests-{os.getpid()}-dev.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the session's Redis."""
    _session_redis.stop()


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded Tansu broker (memory storage) for the whole test session.

    Tests share it: give each test its own topic names (e.g. a unique
    ``Settings.topic_prefix`` / ``app_id``) instead of expecting an empty cluster.
    """
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture
def stream(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Stream]:
    """A deployment of the test's own (its topics made, its workers stopped at the end, its data removed)."""
    s = Stream(broker.bootstrap, tmp_path)
    s.create_topics()
    yield s
    s.stop_workers()
    s.close(purge=True)
