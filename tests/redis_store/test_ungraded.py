"""``ungraded`` in the tier store and on ``GET /tiers/...`` (issue 10, point 3), on the real Redis.

The changes are the engine's own for a supplier with a purchase order and no delivery
(ungraded), then its first delivery (a first tier, "initial"): see tests/scorers/test_evidence.py
for the values, derived by hand from the published rules.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from tests.redis_store.helpers import REDIS_URL
from tests.scorers.helpers import RULES, changes, delivery, feed, purchase
from tests.scorers.test_evidence import NO_DELIVERY
from tests.test_web import serve
from tierstream.schemas.outputs import UNGRADED
from tierstream.scorers.engine import Grader
from tierstream.streams.store.keys import changes_stream_key
from tierstream.streams.store.redis import AsyncTierStore


def test_ungraded_is_stored_streamed_and_served_then_replaced_by_a_first_tier(prefix: str) -> None:
    g = Grader(RULES)
    state, outs = feed(g, [purchase(0, "p1", amount=100.0, market=100.0)])
    [ungraded] = changes(outs)
    state, outs = feed(g, [delivery(10, "p1", 12, 100, 100, 98)], state)
    [graded] = changes(outs)

    async def body(client: Any, store: AsyncTierStore) -> None:
        assert await store.apply_change(ungraded)
        r = await client.get("/tiers/supplier/s1")
        assert r.status == 200
        doc = await r.json()
        assert (doc["tier"], doc["direction"], doc["previous_tier"]) == (UNGRADED, "ungraded", None)
        assert doc["ungraded_reason"] == NO_DELIVERY and doc["next_tier"] is None
        assert doc["reasons"][0] == f"ungraded: {NO_DELIVERY}"

        assert await store.apply_change(graded)
        doc = await (await client.get("/tiers/supplier/s1")).json()
        assert (doc["tier"], doc["direction"], doc["previous_tier"]) == ("excellent", "initial", UNGRADED)
        assert doc["ungraded_reason"] is None

        hist = await (await client.get("/tiers/supplier/s1/history")).json()
        assert [(c["tier"], c["ungraded_reason"]) for c in hist["changes"]] == [
            ("excellent", None), (UNGRADED, NO_DELIVERY)]
        raw = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            entries = raw.xrange(changes_stream_key(prefix))  # the changes stream
        finally:
            raw.close()
        assert [json.loads(f["change"])["tier"] for _, f in entries] == [UNGRADED, "excellent"]

    serve(REDIS_URL, prefix, lambda: {"ok": True}, body)
