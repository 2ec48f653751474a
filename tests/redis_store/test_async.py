"""apply_many: one batch, surviving a flush of the script cache; a store built from the settings."""

from __future__ import annotations

import asyncio

import redis
from pydantic import SecretStr

from tests.redis_store.helpers import REDIS_URL, change
from tierstream.schemas.settings import Settings
from tierstream.streams.store.redis import AsyncTierStore, changes_stream_key, tier_key


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
