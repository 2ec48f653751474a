"""``tierstream rules diff``: one pass over history, graded under two rule sets side by side."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import orjson

from tierstream.schemas.rules import Rules
from tierstream.streams.offline.breakdown import attribute_of
from tierstream.streams.offline.parallel import score_parallel
from tierstream.streams.offline.report_data import ChangeTally, Row

__all__ = ["DISTRIBUTION_COLUMNS", "MOVER_COLUMNS", "DiffResult", "diff_rules", "distribution_rows", "mover_rows",
           "render"]

#: the columns of the distribution table (with ``by``, its value comes after the entity type)
DISTRIBUTION_COLUMNS = ("entity_type", "tier", "before", "after", "delta")
#: the columns of the movers table
MOVER_COLUMNS = ("entity_type", "entity_id", "from", "to", "score_before", "score_after")


@dataclass
class DiffResult:
    """Both rule sets' tier distributions (``(entity type, tier)``, or with ``by`` ``(entity type, value, tier)``)."""

    old_version: str
    new_version: str
    as_of: int
    before: Counter[tuple[str, ...]] = field(default_factory=Counter)
    after: Counter[tuple[str, ...]] = field(default_factory=Counter)
    movers: list[dict[str, object]] = field(default_factory=list)
    entities: int = 0
    rejected: int = 0
    by: str | None = None
    #: with ``explain``: every entity under each rule set, and their tier changes folded
    old_rows: Sequence[Row] = ()
    new_rows: Sequence[Row] = ()
    old_changes: ChangeTally | None = None
    new_changes: ChangeTally | None = None


def diff_rules(old: Rules, new: Rules, events: Path, as_of: int | None, workers: int = 1,
               by: str | None = None, explain: bool = False) -> DiffResult:
    """Grade ``events`` under both rule sets (each run on ``workers`` processes), at one instant.

    ``by``: break both distributions down by an attribute (``streams.offline.breakdown``),
    each entity counted under its value under that rule set (its group may differ).
    ``explain``: keep every entity under each rule set and the reasons of its latest
    tier change (for the HTML report).
    """
    tallies = (ChangeTally(), ChangeTally()) if explain else (None, None)
    a = score_parallel(events, old, workers, as_of, cast("IO[bytes] | None", tallies[0]))
    b = score_parallel(events, new, workers, as_of, cast("IO[bytes] | None", tallies[1]), finish_at=a.as_of)
    res = DiffResult(old.version, new.version, a.as_of, rejected=a.report.invalid, by=by)
    if explain:
        res.old_rows, res.new_rows = a.snapshots, b.snapshots
        res.old_changes, res.new_changes = tallies

    def cell(kind: str, tier: str, line: bytes) -> tuple[str, ...]:
        return (kind, tier) if by is None else (kind, attribute_of(orjson.loads(line), by), tier)

    after = {key: (tier, line) for key, tier, line in b.snapshots}
    res.entities = len({key for key, _, _ in a.snapshots} | set(after))
    for key, tier, line in a.snapshots:
        res.before[cell(key[0], tier, line)] += 1
        moved = after.get(key)
        if moved is not None and moved[0] != tier:
            res.movers.append({
                "entity_type": key[0], "entity_id": key[1], "from": tier, "to": moved[0],
                "score_before": orjson.loads(line)["score"], "score_after": orjson.loads(moved[1])["score"],
            })
    for key, (tier, line) in after.items():
        res.after[cell(key[0], tier, line)] += 1
    res.movers.sort(key=lambda m: (str(m["entity_type"]), -abs(float(m["score_after"]) - float(m["score_before"]))))  # type: ignore[arg-type]
    return res


def distribution_rows(res: DiffResult) -> tuple[list[str], list[tuple[object, ...]]]:
    """The distribution table: per (entity type, [value of ``by``,] tier), the count before, after and the delta."""
    columns = list(DISTRIBUTION_COLUMNS)
    if res.by is not None:
        columns.insert(1, res.by if res.by not in DISTRIBUTION_COLUMNS else f"by_{res.by}")
    rows: list[tuple[object, ...]] = []
    for key in sorted(set(res.before) | set(res.after)):
        b, a = res.before.get(key, 0), res.after.get(key, 0)
        rows.append((*key, b, a, a - b))
    return columns, rows


def mover_rows(res: DiffResult, limit: int) -> tuple[list[str], list[tuple[object, ...]]]:
    """The first ``limit`` movers (largest score change first, per entity type)."""
    return list(MOVER_COLUMNS), [tuple(m[c] for c in MOVER_COLUMNS) for m in res.movers[:limit]]


def render(res: DiffResult, limit: int, as_json: bool, table: str | None = None) -> str:
    """The diff as tables (``table``: only ``distribution`` or ``movers``), or as one JSON document."""
    if as_json:
        return orjson.dumps({
            "old_version": res.old_version, "new_version": res.new_version, "entities": res.entities,
            **({} if res.by is None else {"by": res.by}),
            "before": {"/".join(k): n for k, n in sorted(res.before.items())},
            "after": {"/".join(k): n for k, n in sorted(res.after.items())},
            "movers": res.movers,
        }, option=orjson.OPT_INDENT_2).decode()
    lines = [f"rules {res.old_version} -> {res.new_version}: {res.entities:,} entities, "
             f"{len(res.movers):,} would move"]
    if table in (None, "distribution"):
        rows = distribution_rows(res)[1]
        width = max([20, len(res.by or ""), *(len(str(row[1])) for row in rows)])  # values in full
        column = "" if res.by is None else f"{res.by:{width}} "
        lines.append(f"  {'entity':9} {column}{'tier':12} {'before':>8} {'after':>8} {'delta':>7}")
        for row in rows:
            value = "" if res.by is None else f"{row[1]!s:{width}} "
            kind, tier, b, a, d = row[0], row[-4], row[-3], row[-2], row[-1]
            lines.append(f"  {kind:9} {value}{tier:12} {b:8,} {a:8,} {d:+7,}")
    if table in (None, "movers") and res.movers:
        lines.append("movers (largest score change first):")
        for kind, eid, tier_from, tier_to, before, after in mover_rows(res, limit)[1]:
            lines.append(f"  {kind} {eid}: {tier_from} -> {tier_to} (score {before} -> {after})")
        if len(res.movers) > limit:
            lines.append(f"  ... {len(res.movers) - limit:,} more (use --limit or --json)")
    return "\n".join(lines)
