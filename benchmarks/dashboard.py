"""The dashboard with many entities: ``python -m benchmarks.dashboard [--entities 100000]``.

Fills Redis, under a key prefix of its own, with the tier changes of ``--entities``
entities (nine customers for one supplier; a fifth of them change tier a second time,
so the counters move too) through the real store (:meth:`AsyncTierStore.apply_many`,
the worker's sink), then serves the worker's views on a local port and times
``GET /`` and ``GET /distribution`` (median and slowest of ``--repeat`` requests), next
to what one pass over every tier hash would cost (``SCAN``, then ``HGET tier`` pipelined), the scan
the counters avoid. Deletes its keys at the end. Figures of this machine, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import faust
from aiohttp.test_utils import TestServer

from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import Rules, load_rules
from tierstream.schemas.settings import Settings
from tierstream.streams.store.redis import AsyncTierStore
from tierstream.streams.worker.dashboard import register_dashboard

__all__ = ["changes_of", "main"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def changes_of(rules: Rules, entities: int) -> list[TierChange]:
    """Return every entity's first change, then a second one for every fifth entity."""
    out: list[TierChange] = []
    for seq in (1, 2):
        for i in range(0, entities, 1 if seq == 1 else 5):
            kind = "supplier" if i % 10 == 0 else "customer"
            tiers = [*rules.of(kind).every_tier_name(), "ungraded"]
            tier = tiers[(i + seq) % len(tiers)]
            out.append(TierChange.model_validate({
                "change_id": f"tc:{kind}:e{i}:{seq}", "entity_type": kind, "entity_id": f"e{i}",
                "previous_tier": None if seq == 1 else tiers[(i + 1) % len(tiers)], "tier": tier,
                "direction": "initial" if seq == 1 else "downgrade", "score": 50.0 + i % 50,
                "previous_score": None, "components": {"quality": 80.0}, "reasons": ["benchmark"],
                "rules_version": rules.version, "occurred_at": T0 + timedelta(seconds=i), "cause": f"ev-{i}"}))
    return out


async def timed(repeat: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """Return the median and the slowest of ``repeat`` calls, in milliseconds."""
    spent = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - start) * 1000)
    return statistics.median(spent), max(spent)


async def run(url: str, entities: int, repeat: int) -> None:
    rules = load_rules()
    prefix = f"bench-dash-{uuid.uuid4().hex[:8]}"
    store = AsyncTierStore.from_url(url, prefix=prefix, timeout=30)
    try:
        changes = changes_of(rules, entities)
        start = time.perf_counter()
        for i in range(0, len(changes), 1000):
            await store.apply_many(changes[i : i + 1000])
        fill_s = time.perf_counter() - start
        print(f"filled {entities:,} entities ({len(changes):,} changes) in {fill_s:.1f}s "
              f"({len(changes) / fill_s:,.0f} changes/s through apply_many)")

        app = faust.App(f"bench-dash-{uuid.uuid4().hex[:8]}", web_host="127.0.0.1", web_port=6066)
        register_dashboard(app, store, lambda: rules)
        async with TestServer(await app.web.wsgi()) as server, aiohttp.ClientSession() as http:
            async def get(path: str) -> Any:
                async with http.get(server.make_url(path)) as resp:
                    assert resp.status == 200, (path, resp.status)
                    return await resp.read()

            counted = await (await http.get(server.make_url("/distribution"))).json()
            print("counted:", {t: d["total"] for t, d in counted.items()})
            for path in ("/", "/assets/chart.js", "/distribution", "/distribution?segment=&group="):
                median, worst = await timed(repeat, lambda path=path: get(path))  # type: ignore[misc]
                print(f"GET {path:30} median {median:7.2f} ms, slowest {worst:7.2f} ms ({repeat} requests)")

        client = store.client

        async def scan() -> int:
            keys = [k async for k in client.scan_iter(match=f"{prefix}:tier:*", count=1000)]
            for i in range(0, len(keys), 1000):  # the tiers read 1,000 to a round trip
                async with client.pipeline(transaction=False) as pipe:
                    for key in keys[i : i + 1000]:
                        pipe.hget(key, "tier")
                    await pipe.execute()
            return len(keys)

        median, worst = await timed(1, scan)
        print(f"for comparison, one scan of every tier hash: {median:,.0f} ms")
    finally:
        keys = [k async for k in store.client.scan_iter(match=f"{prefix}:*", count=5000)]
        for i in range(0, len(keys), 5000):
            await store.client.unlink(*keys[i : i + 5000])
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--redis-url", default=None, help="default: TIERSTREAM_REDIS_URL, else the settings' default")
    args = parser.parse_args()
    url = args.redis_url or Settings().redis_url.get_secret_value()
    asyncio.run(run(url, args.entities, args.repeat))


if __name__ == "__main__":
    main()
