"""Tier changes to store, and an :class:`AsyncTierStore` driven from sync tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis

from tierstream.schemas.outputs import NextTier, TierChange
from tierstream.streams.store.redis import AsyncTierStore

__all__ = ["DEAD_URL", "REDIS_URL", "T0", "Store", "T", "change", "key_prefix", "open_store"]


#: The session's embedded Valkey (started by tests/conftest.py before any test module is imported).
REDIS_URL = os.environ["TIERSTREAM_REDIS_URL"]
DEAD_URL = "redis://:s3cret@127.0.0.1:1/0"
T = TypeVar("T")

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def change(
    seq: int,
    entity_id: str = "c-1",
    entity_type: str = "customer",
    tier: str | None = None,
) -> TierChange:
    tiers = ["bronze", "silver", "gold", "platinum"]
    new = tier or tiers[min(seq - 1, 3)]
    prev = None if seq == 1 else tiers[min(seq - 2, 3)]
    return TierChange.model_validate(
        {
            "change_id": f"tc:{entity_type}:{entity_id}:{seq}",
            "entity_type": entity_type,
            "entity_id": entity_id,
            "previous_tier": prev,
            "tier": new,
            "direction": "initial" if seq == 1 else "upgrade",
            "score": 40.0 + seq * 10.5,
            "previous_score": None if seq == 1 else 40.0 + (seq - 1) * 10.5,
            "components": {"value": 80.0, "frequency": 55.5},
            "reasons": [f"reason {seq}", "naïve “quotes”"],
            "rules_version": "2024-03",
            "occurred_at": T0 + timedelta(hours=seq),
            "cause": f"ev-{seq}",
            "next_tier": NextTier(tier="diamond", score_gap=4.5, hints=["3 more orders"]),
            "actions": [{"name": "discount", "value": 0.05, "label": "5% off"}, {"name": "priority_service"}],
        }
    )


@dataclass
class Store:
    """An :class:`AsyncTierStore` driven from a sync test on one event loop, and a plain
    client to look at the keys as they are stored."""

    runner: asyncio.Runner
    store: AsyncTierStore
    raw: redis.Redis[str]

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(step)

    def apply(self, c: TierChange) -> bool:
        return self.run(self.store.apply_change(c))

    def get(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        return self.run(self.store.get(entity_type, entity_id))

    def history(self, entity_type: str, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return self.run(self.store.history(entity_type, entity_id, limit))


@contextmanager
def open_store(url: str, prefix: str, **kwargs: Any) -> Iterator[Store]:
    with asyncio.Runner() as runner:
        s = AsyncTierStore.from_url(url, prefix=prefix, **kwargs)
        raw = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            yield Store(runner, s, raw)
        finally:
            runner.run(s.close())
            raw.close()


@contextmanager
def key_prefix(tag: str) -> Iterator[str]:
    """Yield a fresh Redis key prefix, and delete every key under it afterwards."""
    p = f"{tag}-{uuid.uuid4().hex[:12]}"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{p}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()
