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
from typing import Any

__all__ = ["Cell", "parse_cells", "summarize"]


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
