"""A flood of distinct entity ids, one order each (issue 15, scenario 6).

Nothing caps the number of entities: the ``entities`` table keeps every one, and so does
Redis (a tier hash and a history list each). What bounds them is memory, so both scenarios
measure it per entity: the state as stored (changelog bytes, against issue 14's budget of
1 KiB per entity), the process's RSS growth and Redis's ``used_memory`` growth.

* :func:`scenario_flood`: through a real worker, broker and Redis (every entity in the table,
  on the changelog and in Redis);
* :func:`scenario_flood_memory`: the worker's :class:`Processor` over a dict table in this
  process, its changes applied by the store's scripts to a private Valkey -- the same state
  bytes, review index and Redis writes without the broker, so a million entities take
  minutes, not the hour a loaded 2-core machine needs to push them through a worker.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from tests.faults.checks import wait_processed
from tests.faults.deployment import fault_deployment, redis_of
from tests.faults.figures import Figures
from tests.faults.inputs import compact, order
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState, event_hash
from tierstream.streams.client.publish import publish
from tierstream.streams.dev.harness import poll
from tierstream.streams.dev.valkey import EmbeddedRedis
from tierstream.streams.kafka.read import read_states
from tierstream.streams.kafka.topics import entity_key, partition_of
from tierstream.streams.store.redis import AsyncTierStore
from tierstream.streams.worker.processor import BatchStore, Processor

__all__ = ["STATE_BUDGET", "scenario_flood", "scenario_flood_memory"]

NOW = datetime(2026, 11, 25, tzinfo=UTC).timestamp()
#: issue 14's budget of state per entity (changelog bytes), with every feature on
STATE_BUDGET = 1024


def _orders(n: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
    for i in range(start, start + n):
        yield i, compact(order(f"fl-{i}", f"fl{i:07d}"))


def scenario_flood(bootstrap: str, tmp: Path, entities: int = 1_000_000) -> Figures:
    """Publish ``entities`` orders, each for a new customer; check every one is kept, measure memory."""
    fig = Figures("flood")
    started = time.monotonic()
    with fault_deployment(bootstrap, tmp / "flood") as dep:
        w = dep.start_worker()
        redis = redis_of(dep).client()
        try:
            rss0, mem0 = w.rss(), int(redis.info("memory")["used_memory"])
            peak = [rss0]
            done = threading.Event()

            def sample() -> None:  # the worker's peak RSS, once a second
                while not done.wait(1.0):
                    try:
                        peak[0] = max(peak[0], w.rss())
                    except ProcessLookupError:
                        return

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            report = publish(dep.settings, _orders(entities))
            fig.events_in = report.lines
            published = time.monotonic()
            wait_processed(dep, fig, deadline_s=max(600.0, entities / 100))
            processed_s = time.monotonic() - published
            done.set()
            sampler.join()
            tier_keys = 0

            def all_in_redis() -> bool:  # the sink follows the tier-changes topic: it may lag the grading
                nonlocal tier_keys
                tier_keys = sum(1 for _ in redis.scan_iter(match=f"{dep.settings.redis_key_prefix}:tier:*",
                                                           count=5000))
                return tier_keys >= entities

            with suppress(AssertionError):
                poll(all_in_redis, max(300.0, entities / 50), "a tier key per entity in Redis", interval=2.0)
            rss1, mem1 = w.rss(), int(redis.info("memory")["used_memory"])
        finally:
            redis.close()
        states = read_states(dep.settings, 600)
        health: dict[str, object] = {}

        def answered() -> bool:
            nonlocal health
            health = w.health() or {}
            return bool(health)

        poll(answered, 60, "the worker's /health")
        in_table = int(str(health.get("entities_in_table", -1)))
        value_bytes = sum(len(v) for v in states.values())
        missing = [i for i in range(entities)
                   if event_hash(f"fl-{i}") not in _seen(states.get(entity_key("customer", f"fl{i:07d}")))]
        n = max(1, entities)
        fig.entities = len(states)
        fig.valid = fig.expected_in_state = entities
        fig.in_state = entities - len(missing)
        fig.lost_events = len(missing)
        fig.facts["entities in the table (worker /health) / on the changelog / Redis tier keys"] = (
            f"{in_table:,} / {len(states):,} / {tier_keys:,}")
        fig.facts["published in / processed in (s)"] = f"{published - started:.0f} / {processed_s:.0f}"
        fig.facts["changelog bytes per entity (budget 1,024)"] = round(value_bytes / n)
        fig.facts["worker RSS: empty / after / peak (MB)"] = f"{rss0 >> 20} / {rss1 >> 20} / {peak[0] >> 20}"
        fig.facts["worker RSS growth per entity (B)"] = round((rss1 - rss0) / n)
        fig.facts["Redis used_memory growth per entity (B)"] = round((mem1 - mem0) / n)
        fig.check(not missing, f"{len(missing):,} entities' orders not in their state, e.g. {missing[:3]}")
        fig.check(len(states) == entities == in_table, f"{len(states):,} entities on the changelog, {in_table:,} in "
                  f"the table, {entities:,} sent")
        fig.check(tier_keys == entities, f"{tier_keys:,} Redis tier keys for {entities:,} entities")
        _budget(fig, value_bytes / n)
        fig.check(w.alive and bool((w.health() or {}).get("ready")), "the worker is not alive and ready")
    fig.seconds = time.monotonic() - started
    return fig


def _seen(raw: bytes | None) -> set[int]:
    return set(EntityState.from_bytes(raw).seen) if raw is not None else set()


def _rss_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError("no VmRSS")


def scenario_flood_memory(tmp: Path, entities: int = 1_000_000, chunk: int = 1_000) -> Figures:
    """``entities`` new customers through the :class:`Processor` in process, rounds of ``chunk``
    as a worker's fetches, the tier changes into a private Valkey; memory per entity."""
    fig = Figures("flood-memory")
    started = time.monotonic()
    proc = Processor(Settings(topic_prefix="fl.", app_id="fl"), load_rules(), wall_clock=lambda: NOW)
    orders, parts = proc.names.inbound("order"), proc.settings.partitions
    table: dict[bytes, bytes] = {}
    gc.collect()
    rss0 = _rss_self()
    with EmbeddedRedis(log_path=tmp / "flood-valkey.log") as server:
        store = AsyncTierStore.from_url(server.url, prefix="fl")

        async def apply(changes: list[TierChange]) -> None:
            for i in range(0, len(changes), 500):
                await store.apply_many(changes[i:i + 500])

        loop = asyncio.new_event_loop()
        try:
            mem0 = int(loop.run_until_complete(store.client.info("memory"))["used_memory"])
            applied = 0
            for lo in range(0, entities, chunk):
                batch = BatchStore(table)
                for i, raw in _orders(min(chunk, entities - lo), lo):
                    key = entity_key("customer", f"fl{i:07d}").encode()
                    proc.process(batch, orders, partition_of(key, parts), i, key, raw, NOW)
                batch.flush()
                proc.index_reviews(batch)
                changes = [TierChange.model_validate_json(o.value) for o in batch.take_outbox()
                           if o.topic == proc.names.tier_changes]
                batch.flush()
                loop.run_until_complete(apply(changes))
                applied += len(changes)
                if (lo + chunk) % 50_000 == 0:
                    print(f"flood-memory: {lo + chunk:,} entities, {time.monotonic() - started:.0f} s, "
                          f"RSS {_rss_self() >> 20} MB", file=sys.stderr, flush=True)
            gc.collect()
            rss1 = _rss_self()
            info = loop.run_until_complete(store.client.info("memory"))
            mem1 = int(info["used_memory"])
            keys = loop.run_until_complete(store.client.dbsize())
            loop.run_until_complete(store.close())
        finally:
            loop.close()
    n = max(1, entities)
    value_bytes = sum(len(v) for v in table.values())
    fig.events_in = fig.valid = fig.expected_in_state = entities
    fig.entities = fig.in_state = len(table)
    fig.changes = applied
    fig.facts["state bytes per entity (the changelog value; budget 1,024)"] = round(value_bytes / n)
    fig.facts["process RSS: before / after (MB); growth per entity (B)"] = (
        f"{rss0 >> 20} / {rss1 >> 20}; {round((rss1 - rss0) / n)}")
    fig.facts["review index entries"] = len(proc.due)
    fig.facts["Redis keys / used_memory growth per entity (B)"] = f"{keys:,} / {round((mem1 - mem0) / n)}"
    fig.facts["Redis used_memory after (MB)"] = mem1 >> 20
    fig.check(len(table) == entities, f"{len(table):,} entities in the table for {entities:,} sent")
    fig.check(applied == entities, f"{applied:,} tier changes for {entities:,} new entities")
    _budget(fig, value_bytes / n)
    fig.seconds = time.monotonic() - started
    return fig


def _budget(fig: Figures, per_entity: float) -> None:
    """Note the state's size against issue 14's budget: a figure, as bench's, not a pass or fail.

    Since the bulk round a state keeps its last outbox until its next write (one-order
    customers keep their first tier change), about 3.4 KB here against 0.6 KB without it:
    issue 14's open item, measured by ``python -m benchmarks.state_at_rest`` too.
    """
    over = "" if per_entity <= STATE_BUDGET else " (over the budget: the outbox kept at rest, issue 14)"
    fig.facts["state against issue 14's budget of 1,024 B per entity"] = f"{per_entity:.0f} B{over}"
