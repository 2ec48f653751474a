"""Notices on Redis pub/sub: each on its entity type's channel, in order."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import redis

from tests.redis_store.helpers import REDIS_URL
from tierstream.schemas.outputs import TierNotice
from tierstream.streams.store.redis import AsyncTierStore, notice_channel


def notice(entity_type: str, entity_id: str, n: int) -> TierNotice:
    return TierNotice(notice_id=f"tn:{entity_type}:{entity_id}:at_risk:{n}", kind="at_risk", entity_type=entity_type,
                      entity_id=entity_id, tier="good", score=68.0, target_tier="qualified", refers_to="2026-01-18",
                      gap=2.0, hints=[], message="held", rules_version="v1",
                      occurred_at=datetime(2025, 11, 20, tzinfo=UTC), cause="e1")


def test_notices_are_published_on_their_entity_types_channel_in_order(prefix: str) -> None:
    listener = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(notice_channel(prefix, "supplier"), notice_channel(prefix, "customer"))
    sent = [notice("supplier", "s1", 1), notice("customer", "c1", 1), notice("supplier", "s1", 2)]

    async def run() -> int:
        s = AsyncTierStore.from_url(REDIS_URL, prefix=prefix)
        try:
            assert await s.publish_notices([]) == 0
            return await s.publish_notices(sent)
        finally:
            await s.close()

    assert asyncio.run(run()) == 3
    heard: list[tuple[str, str]] = []
    deadline = time.monotonic() + 10
    while len(heard) < 3 and time.monotonic() < deadline:
        msg = listener.get_message(timeout=0.5)
        if msg is not None:
            heard.append((msg["channel"].decode(), json.loads(msg["data"])["notice_id"]))
    listener.close()
    assert heard == [(notice_channel(prefix, n.entity_type), n.notice_id) for n in sent]
