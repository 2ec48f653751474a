"""An entity's change history and the stream of all changes."""

from __future__ import annotations

import time

import redis

from tests.redis_store.helpers import REDIS_URL, Store, change, open_store
from tierstream.schemas.outputs import TierChange
from tierstream.streams.store.redis import HISTORY_CAP, change_channel, changes_stream_key, history_key


def test_history_newest_first_and_capped(prefix: str) -> None:
    with open_store(REDIS_URL, prefix, history_cap=5) as small:
        for seq in range(1, 9):
            assert small.apply(change(seq)) is True
        assert small.raw.llen(history_key(prefix, "customer", "c-1")) == 5
        hist = small.history("customer", "c-1", 100)  # limit clamped to the cap
        assert [h["change_id"].rsplit(":", 1)[1] for h in hist] == ["8", "7", "6", "5", "4"]
        assert [h["change_id"] for h in small.history("customer", "c-1", 2)] == [
            "tc:customer:c-1:8",
            "tc:customer:c-1:7",
        ]
        # entries are full TierChange documents
        assert TierChange.model_validate(hist[0]) == change(8)


def test_default_history_cap(store: Store) -> None:
    assert store.store.history_cap == HISTORY_CAP == 100


def test_stream_gets_one_entry_per_applied_change(store: Store, prefix: str) -> None:
    for seq in (1, 2, 2, 1, 3, 3):
        store.apply(change(seq))
    key = changes_stream_key(prefix)
    assert store.raw.xlen(key) == 3
    entries = store.raw.xrange(key)
    assert [set(fields) for _, fields in entries] == [{"change"}] * 3
    decoded = [TierChange.model_validate_json(fields["change"]) for _, fields in entries]
    assert decoded == [change(1), change(2), change(3)]


def test_pubsub_message_is_published(store: Store, prefix: str) -> None:
    listener = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    pubsub = listener.pubsub()
    try:
        pubsub.subscribe(change_channel(prefix, "supplier"))
        deadline = time.monotonic() + 5
        confirmed = False
        while not confirmed and time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.2)
            confirmed = msg is not None and msg["type"] == "subscribe"
        assert confirmed, "no subscribe confirmation"

        c = change(1, entity_id="s-9", entity_type="supplier")
        assert store.apply(c) is True
        assert store.apply(c) is False  # a replay publishes nothing

        received: list[str] = []
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if msg is not None:
                received.append(msg["data"])
        assert len(received) == 1
        assert TierChange.model_validate_json(received[0]) == c
        # and no second message for the replay
        assert pubsub.get_message(ignore_subscribe_messages=True, timeout=0.3) is None
    finally:
        pubsub.close()
        listener.close()
