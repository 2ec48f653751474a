"""The tier counters the apply script keeps (``{prefix}:dist:{entity_type}``), read back and summed.

The script counts every stored entity in one cell ``[tier, segment, group]`` and moves
it when a newer change is applied (see :mod:`.keys`), so a distribution is a sum over a
few dozen cells, whatever the number of entities: no scan of the tier hashes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aredis

from tierstream.streams.store.keys import ENTITY_TYPES, dist_key, recounted_key, tier_key
from tierstream.streams.store.lua import COUNT_LUA, cell_of

__all__ = ["Cell", "count_uncounted", "parse_cells", "summarize"]


@dataclass(frozen=True)
class Cell:
    """How many entities are stored with one tier, segment and group (``""`` when none)."""

    tier: str
    segment: str
    group: str
    count: int


def parse_cells(raw: Mapping[str, str]) -> list[Cell]:
    """Return the cells of a counters hash (field ``["tier","segment","group"]``, value a count); skip empty ones."""
    cells = []
    for field, value in raw.items():
        tier, segment, group = json.loads(field)
        if int(value) > 0:
            cells.append(Cell(tier, segment, group, int(value)))
    return cells


def summarize(cells: Iterable[Cell], tier_order: list[str], segment: str | None = None,
              group: str | None = None) -> dict[str, Any]:
    """Return the distribution of the cells in ``segment`` and ``group`` (``None``: any).

    ``tiers`` lists every tier of ``tier_order`` (zero when none), then any other tier
    stored (e.g. of older rules), then ``ungraded``; ``segments`` and ``groups`` count
    every entity of the type whatever the filters (``""``: none), for the filters' choices.
    """
    cells = list(cells)
    chosen = [c for c in cells if (segment is None or c.segment == segment) and (group is None or c.group == group)]
    by_tier: Counter[str] = Counter()
    for c in chosen:
        by_tier[c.tier] += c.count
    others = sorted(t for t in by_tier if t not in tier_order and t != "ungraded")
    order = [*tier_order, *others, "ungraded"]
    segments: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    for c in cells:
        segments[c.segment] += c.count
        groups[c.group] += c.count
    return {
        "total": sum(by_tier.values()),
        "tiers": [{"tier": t, "count": by_tier[t]} for t in order],
        "segments": dict(sorted(segments.items())),
        "groups": dict(sorted(groups.items())),
    }


async def count_uncounted(client: aredis.Redis[str], prefix: str, batch: int = 1000) -> int:
    """Count the entities stored before the tier counters existed, once per store; return how many.

    One pass over the tier hashes (``SCAN``), ``batch`` to a round trip; each entity is
    counted by a script that does nothing when it is counted already, so a change applied
    meanwhile, or another worker doing the same pass, counts nothing twice. The pass is
    marked done in ``{prefix}:dist-recounted``, so later starts skip it.
    """
    if await client.exists(recounted_key(prefix)):
        return 0
    counted = 0
    for entity_type in ENTITY_TYPES:
        dist = dist_key(prefix, entity_type)
        keys: list[str] = []
        async for key in client.scan_iter(match=tier_key(prefix, entity_type, "*"), count=batch):
            keys.append(key)
            if len(keys) >= batch:
                counted += await _count(client, dist, keys)
                keys = []
        counted += await _count(client, dist, keys)
    await client.set(recounted_key(prefix), datetime.now(UTC).isoformat(timespec="seconds"))
    return counted


async def _count(client: aredis.Redis[str], dist: str, keys: list[str]) -> int:
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, ["tier", "segment", "group", "counted_in"])
        rows: list[list[str | None]] = await pipe.execute()
    todo = [(key, cell_of(tier, segment, group))
            for key, (tier, segment, group, counted) in zip(keys, rows, strict=True)
            if tier is not None and counted is None]
    if not todo:
        return 0
    async with client.pipeline(transaction=False) as pipe:
        for key, cell in todo:
            pipe.eval(COUNT_LUA, 2, key, dist, cell)
        return sum(int(r) for r in await pipe.execute())
