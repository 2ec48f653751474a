"""The Redis tier store (``AsyncTierStore``, run with asyncio) against a real Redis at 127.0.0.1:6379.

Every test uses its own key prefix and deletes its keys afterwards, so tests can
run in parallel with each other and with anything else using that Redis.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import traceback
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import redis
from pydantic import SecretStr

from tierstream.schemas.outputs import NextTier, TierChange
from tierstream.schemas.settings import Settings
from tierstream.streams.store.redis import (
    HISTORY_CAP,
    AsyncTierStore,
    StoreUnavailable,
    change_channel,
    changes_stream_key,
    history_key,
    key_layout,
    parse_seq,
    tier_key,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
DEAD_URL = "redis://:s3cret@127.0.0.1:1/0"
T = TypeVar("T")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")

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
        }
    )


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"tstest-{uuid.uuid4().hex[:12]}"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{p}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


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


@pytest.fixture
def store(prefix: str) -> Iterator[Store]:
    with open_store(REDIS_URL, prefix) as s:
        yield s


# --- apply / get -------------------------------------------------------------


def test_apply_then_get_decodes_everything(store: Store, prefix: str) -> None:
    c = change(2, entity_id="acme:eu/1")  # ':' and '/' in ids are fine
    assert store.apply(c) is True

    got = store.get("customer", "acme:eu/1")
    assert got is not None
    assert got["entity_type"] == "customer"
    assert got["entity_id"] == "acme:eu/1"
    assert got["tier"] == "silver"
    assert got["previous_tier"] == "bronze"
    assert got["direction"] == "upgrade"
    assert got["score"] == c.score
    assert got["components"] == {"value": 80.0, "frequency": 55.5}
    assert got["reasons"] == ["reason 2", "naïve “quotes”"]
    assert got["next_tier"] == {"tier": "diamond", "score_gap": 4.5, "hints": ["3 more orders"],
                                "keep_gap": None, "keep_hints": []}
    assert got["rules_version"] == "2024-03"
    assert got["change_id"] == "tc:customer:acme:eu/1:2"
    assert got["seq"] == 2
    assert datetime.fromisoformat(got["occurred_at"]) == c.occurred_at
    updated = datetime.fromisoformat(got["updated_at"])
    assert abs(updated - datetime.now(UTC)) < timedelta(minutes=1)

    # the raw hash is what the key layout documents
    raw = store.raw.hgetall(tier_key(prefix, "customer", "acme:eu/1"))
    assert set(raw) == {
        "tier", "score", "previous_tier", "direction", "components", "reasons", "next_tier",
        "rules_version", "change_id", "seq", "occurred_at", "updated_at",
    }  # fmt: skip
    assert raw["seq"] == "2"


def test_initial_change_has_no_previous_tier(store: Store) -> None:
    assert store.apply(change(1)) is True
    got = store.get("customer", "c-1")
    assert got is not None
    assert got["previous_tier"] is None
    assert got["direction"] == "initial"


def test_get_unknown_returns_none(store: Store) -> None:
    assert store.get("supplier", "nobody") is None
    assert store.history("supplier", "nobody", 10) == []


def test_get_rejects_unknown_entity_type(store: Store) -> None:
    with pytest.raises(ValueError, match="entity_type"):
        store.get("partner", "x")


# --- idempotency and monotonicity ---------------------------------------------


def test_reapplying_the_same_change_changes_nothing(store: Store, prefix: str) -> None:
    c = change(1)
    assert store.apply(c) is True
    before = store.raw.hgetall(tier_key(prefix, "customer", "c-1"))
    assert store.apply(c) is False
    assert store.apply(c) is False
    # not even updated_at moves
    assert store.raw.hgetall(tier_key(prefix, "customer", "c-1")) == before
    assert store.raw.llen(history_key(prefix, "customer", "c-1")) == 1
    assert store.raw.xlen(changes_stream_key(prefix)) == 1


def test_older_change_after_newer_is_ignored(store: Store, prefix: str) -> None:
    assert store.apply(change(3)) is True
    assert store.apply(change(2)) is False
    assert store.apply(change(1)) is False
    got = store.get("customer", "c-1")
    assert got is not None
    assert got["seq"] == 3
    assert got["tier"] == "gold"
    assert [h["change_id"] for h in store.history("customer", "c-1", 10)] == ["tc:customer:c-1:3"]
    assert store.raw.xlen(changes_stream_key(prefix)) == 1


def test_seq_compares_numerically_not_as_text(store: Store) -> None:
    assert store.apply(change(9)) is True
    assert store.apply(change(10)) is True  # "10" < "9" as text
    assert store.apply(change(9)) is False
    got = store.get("customer", "c-1")
    assert got is not None
    assert got["seq"] == 10


def test_entities_are_independent(store: Store) -> None:
    assert store.apply(change(5, entity_id="a")) is True
    assert store.apply(change(1, entity_id="b")) is True
    assert store.apply(change(1, entity_id="a", entity_type="supplier")) is True
    a, b = store.get("customer", "a"), store.get("customer", "b")
    s = store.get("supplier", "a")
    assert a is not None and b is not None and s is not None
    assert (a["seq"], b["seq"], s["seq"]) == (5, 1, 1)


# --- history and stream ---------------------------------------------------------


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


# --- async store ---------------------------------------------------------------


def test_async_apply_many_one_batch(prefix: str) -> None:
    async def run() -> None:
        s = AsyncTierStore.from_url(REDIS_URL, prefix=prefix)
        try:
            assert await s.apply_many([]) == []
            batch = [change(1), change(2), change(2), change(1), change(1, entity_id="other")]
            assert await s.apply_many(batch) == [True, True, False, False, True]
            assert await s.apply_many(batch) == [False] * 5  # a replayed batch is a no-op
            got = await s.get("customer", "c-1")
            assert got is not None and got["seq"] == 2
            hist = await s.history("customer", "c-1", 10)
            assert [h["change_id"] for h in hist] == ["tc:customer:c-1:2", "tc:customer:c-1:1"]
            assert await s.apply_change(change(3)) is True
            assert await s.apply_change(change(3)) is False
            assert await s.ping() is True
            assert await s.get("customer", "unknown") is None
        finally:
            await s.close()

    asyncio.run(run())
    r = redis.Redis.from_url(REDIS_URL)
    assert r.xlen(changes_stream_key(prefix)) == 4
    r.close()


def test_async_apply_many_survives_script_cache_flush(prefix: str) -> None:
    """After a Redis restart the script cache is empty: the batch must still apply."""

    async def run() -> None:
        s = AsyncTierStore.from_url(REDIS_URL, prefix=prefix)
        try:
            assert await s.apply_many([change(1)]) == [True]
            await s._redis.script_flush()
            assert await s.apply_many([change(2), change(3)]) == [True, True]
            await s._redis.script_flush()
            assert await s.apply_change(change(4)) is True
            got = await s.get("customer", "c-1")
            assert got is not None and got["seq"] == 4
        finally:
            await s.close()

    asyncio.run(run())


def test_from_settings_uses_secret_url_and_prefix(prefix: str) -> None:
    settings = Settings(redis_url=SecretStr(REDIS_URL), redis_key_prefix=prefix)

    async def run() -> None:
        s = AsyncTierStore.from_settings(settings)
        try:
            assert s.prefix == prefix
            assert await s.apply_change(change(1)) is True
        finally:
            await s.close()

    asyncio.run(run())
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert r.hget(tier_key(prefix, "customer", "c-1"), "change_id") == "tc:customer:c-1:1"
    finally:
        r.close()


# --- outages ---------------------------------------------------------------------


def _assert_safe(exc: StoreUnavailable) -> None:
    text = "".join(traceback.format_exception(exc))
    assert "127.0.0.1:1" in str(exc)
    assert "s3cret" not in text
    assert "redis://" not in text


def test_store_unavailable_async_hides_secret() -> None:
    async def run() -> list[StoreUnavailable]:
        s = AsyncTierStore.from_url(DEAD_URL, prefix="tstest-dead")
        errors: list[StoreUnavailable] = []
        try:
            assert await s.ping() is False
            for coro in (
                s.apply_many([change(1), change(2)]),
                s.apply_change(change(1)),
                s.get("customer", "x"),
                s.history("customer", "x", 5),
            ):
                try:
                    await coro
                except StoreUnavailable as exc:
                    errors.append(exc)
        finally:
            await s.close()
        return errors

    errors = asyncio.run(run())
    assert len(errors) == 4
    for exc in errors:
        _assert_safe(exc)


def test_unresponsive_redis_times_out_as_unavailable() -> None:
    """A server that accepts TCP but never answers (hung or black-holed Redis)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads or replies
        port = silent.getsockname()[1]

        async def run() -> StoreUnavailable:
            s = AsyncTierStore.from_url(
                f"redis://:s3cret@127.0.0.1:{port}/0", prefix="tstest-dead", timeout=0.2
            )
            try:
                with pytest.raises(StoreUnavailable) as info:
                    await s.apply_many([change(1)])
                return info.value
            finally:
                await s.close()

        started = time.monotonic()
        exc = asyncio.run(run())
        assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(exc)
    assert "s3cret" not in "".join(traceback.format_exception(exc))


def test_bad_url_scheme_does_not_echo_the_url() -> None:
    with pytest.raises(ValueError) as info:
        AsyncTierStore.from_url("http://:s3cret@127.0.0.1:6379/0")
    assert "s3cret" not in str(info.value)


# --- helpers ---------------------------------------------------------------------


def test_parse_seq() -> None:
    assert parse_seq(change(42, entity_id="x:y:7")) == 42
    bad = change(1).model_copy(update={"change_id": "tc:customer:other:1"})
    with pytest.raises(ValueError):
        parse_seq(bad)
    bad = change(1).model_copy(update={"change_id": "tc:customer:c-1:abc"})
    with pytest.raises(ValueError):
        parse_seq(bad)


def test_key_layout_documents_every_key() -> None:
    text = key_layout("tp")
    for key in (
        "tp:tier:{entity_type}:{entity_id}",
        "tp:history:{entity_type}:{entity_id}",
        "`tp:changes`",
        "tp:changes:{entity_type}",
    ):
        assert key in text
    assert json.dumps(text)  # plain text, embeddable anywhere
