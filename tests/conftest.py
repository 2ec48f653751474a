"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tierstream.streams.dev.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded Tansu broker (memory storage) for the whole test session.

    Tests share it: give each test its own topic names (e.g. a unique
    ``Settings.topic_prefix`` / ``app_id``) instead of expecting an empty cluster.
    """
    with EmbeddedBroker() as b:
        yield b
