"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.streaming import Stream
from tierstream.streams.dev.broker import EmbeddedBroker


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
