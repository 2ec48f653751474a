"""``tierstream rules diff``: one pass over history, graded under two rule sets side by side."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tierstream.schemas.rules import Rules
from tierstream.streams.offline.breakdown import attribute_of
from tierstream.streams.offline.parallel import score_parallel

__all__ = ["DiffResult", "diff_rules", "render"]


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


def diff_rules(old: Rules, new: Rules, events: Path, as_of: int | None, workers: int = 1,
               by: str | None = None) -> DiffResult:
    """Grade ``events`` under both rule sets (each run on ``workers`` processes), at one instant.

    ``by``: break both distributions down by an attribute (``streams.offline.breakdown``),
    each entity counted under its value under that rule set (its group may differ).
    """
    a = score_parallel(events, old, workers, as_of)
    b = score_parallel(events, new, workers, as_of, finish_at=a.as_of)
    res = DiffResult(old.version, new.version, a.as_of, rejected=a.report.invalid, by=by)

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


def render(res: DiffResult, limit: int, as_json: bool) -> str:
    """The diff as a table (or JSON): the distributions before and after, then the movers."""
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
    column = "" if res.by is None else f"{res.by[:20]:20} "
    lines.append(f"  {'entity':9} {column}{'tier':12} {'before':>8} {'after':>8} {'delta':>7}")
    for key in sorted(set(res.before) | set(res.after)):
        b, a = res.before.get(key, 0), res.after.get(key, 0)
        value = "" if res.by is None else f"{key[1][:20]:20} "
        lines.append(f"  {key[0]:9} {value}{key[-1]:12} {b:8,} {a:8,} {a - b:+7,}")
    if res.movers:
        lines.append("movers (largest score change first):")
        for m in res.movers[:limit]:
            lines.append(f"  {m['entity_type']} {m['entity_id']}: {m['from']} -> {m['to']} "
                         f"(score {m['score_before']} -> {m['score_after']})")
        if len(res.movers) > limit:
            lines.append(f"  ... {len(res.movers) - limit:,} more (use --limit or --json)")
    return "\n".join(lines)
