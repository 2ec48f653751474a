"""A key prefix of its own for each test (its keys deleted afterwards), and a store on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.redis_store.helpers import REDIS_URL, Store, open_store


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"tstest-{uuid.uuid4().hex[:12]}"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{p}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


@pytest.fixture
def store(prefix: str) -> Iterator[Store]:
    with open_store(REDIS_URL, prefix) as s:
        yield s
