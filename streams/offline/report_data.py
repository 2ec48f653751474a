"""What the HTML reports show, computed from graded entities and their tier changes (no HTML, no files).

A report of ``tierstream score`` reads the entities as of the as-of (their tier,
score, RFM segment and group) and the history of their :class:`TierChange`
lines, folded by a :class:`ChangeTally` as they are written; a report of
``tierstream rules diff`` reads the same for both rule sets. From those come the
tier distribution per entity type, the transition matrix (from tier -> to tier),
the top movers with their explanations and the breakdowns by segment and by
group. Tiers are listed in the rules' order (best first), then ``ungraded``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from tierstream.schemas.outputs import UNGRADED
from tierstream.schemas.rules import Rules
from tierstream.streams.offline.breakdown import NO_VALUE, breakdown

__all__ = [
    "BREAKDOWNS",
    "ENTITY_TYPES",
    "INITIAL",
    "Breakdown",
    "ChangeTally",
    "EntityChanges",
    "Matrix",
    "Mover",
    "Row",
    "breakdowns",
    "diff_movers",
    "distribution",
    "matrix",
    "score_movers",
    "tier_order",
]

#: (entity type, entity id), tier, snapshot JSON: a line of ``tierstream score --out`` with its key and tier
Row = tuple[tuple[str, str], str, bytes]

ENTITY_TYPES = ("customer", "supplier")
#: the "from" of an entity's first tier (a change with no previous tier), or of an entity one rule set lacks
INITIAL = "-"
#: the attributes the reports break the tiers down by: (attribute, heading)
BREAKDOWNS = (("segment", "RFM segment"), ("group", "group"))


@dataclass
class EntityChanges:
    """One entity's tier changes, folded: its first grading, how many since, and its latest change.

    The first grading is its first change into a tier (out of ``ungraded``, whose score of 0
    says only that there was no evidence); ``count`` includes it.
    """

    count: int = 0
    first_tier: str = ""
    first_score: float = 0.0
    latest_from: str = INITIAL
    latest_tier: str = ""
    latest_at: str = ""
    latest_reasons: list[str] = field(default_factory=list)


class ChangeTally:
    """Fold :class:`TierChange` JSON lines as they are written: transitions counted, each entity's latest kept.

    It is a binary sink (``write``), so ``score`` and ``rules diff`` hand it to the
    scoring run as their changes file and the history is never held whole; ``then``,
    when given, is written every byte too (``--changes`` and a report at once).
    """

    def __init__(self, then: IO[bytes] | None = None) -> None:
        self.transitions: Counter[tuple[str, str, str]] = Counter()  # (entity type, from, to)
        self.entities: dict[tuple[str, str], EntityChanges] = {}
        self._then = then
        self._pending = b""

    def write(self, data: bytes) -> int:
        """Count every complete line of ``data``; pass it on to ``then``."""
        if self._then is not None:
            self._then.write(data)
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            if line.strip():
                self.add(orjson.loads(line))
        return len(data)

    def flush(self) -> None:
        """Flush ``then`` (a partial line waits for its end)."""
        if self._then is not None:
            self._then.flush()

    def add(self, change: dict[str, Any]) -> None:
        """Count one change (a decoded ``TierChange``)."""
        kind, tier = change["entity_type"], change["tier"]
        before = change.get("previous_tier") or INITIAL
        self.transitions[(kind, before, tier)] += 1
        seen = self.entities.get((kind, change["entity_id"]))
        if seen is None:
            seen = self.entities[(kind, change["entity_id"])] = EntityChanges()
        if not seen.first_tier or (seen.first_tier == UNGRADED and tier != UNGRADED):
            seen.first_tier, seen.first_score, seen.count = tier, change["score"], 0  # graded at last: counts anew
        seen.count += 1
        seen.latest_from, seen.latest_tier = before, tier
        seen.latest_at = change["occurred_at"]
        seen.latest_reasons = list(change.get("reasons") or [])


def tier_order(kind: str, *rule_sets: Rules, seen: Iterable[str] = ()) -> list[str]:
    """The tiers of ``kind`` best first (default tiers, then any a customer group adds), ``ungraded``, then ``seen``."""
    names: list[str] = []
    for rules in rule_sets:
        names += rules.of(kind).every_tier_name()
    names.append(UNGRADED)
    names += sorted(set(seen))
    return list(dict.fromkeys(names))


def distribution(rows: Iterable[Row]) -> Counter[tuple[str, str]]:
    """How many entities hold each ``(entity type, tier)``."""
    return Counter((key[0], tier) for key, tier, _ in rows)


@dataclass(frozen=True)
class Matrix:
    """Counts of moves from a tier (a row) to a tier (a column), for one entity type."""

    sources: list[str]
    targets: list[str]
    cells: list[list[int]]  #: ``cells[i][j]``: from ``sources[i]`` to ``targets[j]``

    @property
    def total(self) -> int:
        return sum(map(sum, self.cells))


def matrix(moves: Counter[tuple[str, str, str]], kind: str, order: Sequence[str]) -> Matrix:
    """The moves of ``kind`` as a matrix over ``order``: ``-`` first when any move starts from nothing.

    A tier that no move starts from (a row) or ends in (a column) is left out, so the
    matrix stays small; the rest keep ``order``.
    """
    mine = {(a, b): n for (k, a, b), n in moves.items() if k == kind and n}
    full = [INITIAL, *order, *sorted({t for pair in mine for t in pair} - {INITIAL, *order})]
    sources = [t for t in full if any(a == t for a, _ in mine)]
    targets = [t for t in full if any(b == t for _, b in mine)]
    return Matrix(sources, targets, [[mine.get((a, b), 0) for b in targets] for a in sources])


@dataclass(frozen=True)
class Breakdown:
    """Tier counts of one entity type per value of an attribute (``segment``, ``group``)."""

    attribute: str
    heading: str
    tiers: list[str]
    rows: list[tuple[str, list[int]]]  #: (value, count per tier), values sorted, ``-`` last


def breakdowns(rows: Sequence[Row], kind: str, order: Sequence[str]) -> list[Breakdown]:
    """The tier counts of ``kind`` per RFM segment and per group; none for an attribute no entity has."""
    found: list[Breakdown] = []
    for attribute, heading in BREAKDOWNS:
        counts = {(value, tier): n for (k, value, tier), n in breakdown(rows, attribute).items() if k == kind}
        values = sorted({v for v, _ in counts}, key=lambda v: (v == NO_VALUE, v))
        if not values or values == [NO_VALUE]:
            continue
        tiers = [t for t in order if any(tier == t for _, tier in counts)]
        found.append(Breakdown(attribute, heading, tiers,
                               [(v, [counts.get((v, t), 0) for t in tiers]) for v in values]))
    return found


@dataclass(frozen=True)
class Mover:
    """An entity that moved: from a tier and score (first graded; or under OLD) to another (now; or under NEW).

    ``changes``: its tier changes after the first grading (``score``; ``None`` in a
    diff); ``why_before`` / ``why_after``: the reasons of its latest change under OLD and
    NEW (a diff), or ``why_after`` only: those of its latest change (``score``).
    """

    entity_type: str
    entity_id: str
    tier_before: str
    tier_after: str
    score_before: float
    score_after: float
    changes: int | None = None
    latest: str = ""  #: the latest change (a diff: under NEW), ``general -> key on 2026-03-03``
    latest_before: str = ""  #: a diff: the latest change under OLD
    why_before: list[str] = field(default_factory=list)
    why_after: list[str] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return round(self.score_after - self.score_before, 2)


def _score(line: bytes) -> float:
    return float(orjson.loads(line)["score"])


def score_movers(rows: Iterable[Row], tally: ChangeTally, limit: int) -> list[Mover]:
    """The entities that moved most since their first grading: most tier changes, then largest score move.

    Only entities whose tier changed after their first grading or whose score moved
    count; ties go by entity type and id.
    """
    found: list[Mover] = []
    for key, tier, line in rows:
        seen = tally.entities.get(key)
        if seen is None:
            continue
        m = Mover(key[0], key[1], seen.first_tier, tier, seen.first_score, _score(line), seen.count - 1,
                  _latest(seen), why_after=seen.latest_reasons)
        if m.changes or m.delta:
            found.append(m)
    found.sort(key=lambda m: (-(m.changes or 0), -abs(m.delta), m.entity_type, m.entity_id))
    return found[:limit]


def diff_movers(old: Iterable[Row], new: Iterable[Row], old_changes: ChangeTally | None,
                new_changes: ChangeTally | None, limit: int) -> list[Mover]:
    """The entities whose tier differs between the rule sets, largest score difference first (then type, id)."""
    after = {key: (tier, line) for key, tier, line in new}
    found: list[Mover] = []
    for key, tier, line in old:
        other = after.get(key)
        if other is None or other[0] == tier:
            continue
        was, now = _seen(old_changes, key), _seen(new_changes, key)
        found.append(Mover(key[0], key[1], tier, other[0], _score(line), _score(other[1]),
                           latest=_latest(now), latest_before=_latest(was),
                           why_before=[] if was is None else was.latest_reasons,
                           why_after=[] if now is None else now.latest_reasons))
    found.sort(key=lambda m: (-abs(m.delta), m.entity_type, m.entity_id))
    return found[:limit]


def _seen(tally: ChangeTally | None, key: tuple[str, str]) -> EntityChanges | None:
    return None if tally is None else tally.entities.get(key)


def _latest(seen: EntityChanges | None) -> str:
    """An entity's latest change in words: ``general -> key on 2026-03-03`` (its date in UTC)."""
    return "" if seen is None else f"{seen.latest_from} -> {seen.latest_tier} on {seen.latest_at[:10]}"
