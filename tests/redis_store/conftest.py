"""A key prefix of its own for each test (its keys deleted afterwards), and a store on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_store.helpers import REDIS_URL, Store, key_prefix, open_store


@pytest.fixture
def prefix() -> Iterator[str]:
    with key_prefix("tstest") as p:
        yield p


@pytest.fixture
def store(prefix: str) -> Iterator[Store]:
    with open_store(REDIS_URL, prefix) as s:
        yield s
