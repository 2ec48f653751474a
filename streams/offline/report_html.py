"""The HTML reports of ``tierstream score --report`` and ``tierstream rules diff --report``: one file each.

The page is rendered by Jinja2 (autoescaped) from the template shipped in
``streams/assets`` and opens offline: its CSS, its script and Chart.js are
inlined, nothing is fetched. Every figure is in a table too, so the page reads
without JavaScript; the charts only draw the distributions. The figures come
from :mod:`streams.offline.report_data`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from tierstream.schemas.outputs import UNGRADED
from tierstream.schemas.rules import Rules
from tierstream.streams.assets import CHART_JS, asset_text
from tierstream.streams.offline.report_data import (
    ENTITY_TYPES,
    INITIAL,
    Breakdown,
    ChangeTally,
    Matrix,
    Mover,
    Row,
    breakdowns,
    diff_movers,
    distribution,
    matrix,
    score_movers,
    tier_order,
)

__all__ = ["TEMPLATE", "Section", "diff_page", "render", "score_page", "write_report"]

#: the page template, relative to ``streams/assets``
TEMPLATE = "report.html.j2"


@dataclass
class Section:
    """What the page shows for one entity type."""

    kind: str
    entities: int
    #: (tier, count) per tier (``score``), or (tier, before, after) (a diff)
    distribution: list[tuple[Any, ...]]
    matrix: Matrix
    #: per attribute: (heading, [(caption, breakdown)]): one breakdown, or OLD's and NEW's side by side
    breakdowns: list[tuple[str, list[tuple[str, Breakdown]]]]
    movers: list[Mover]
    chart: dict[str, Any] = field(default_factory=dict)
    #: tier -> its colour's CSS class (``t0`` the best tier ... ``t5``; ``tu`` ungraded): the same in every table
    colours: dict[str, str] = field(default_factory=dict)


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _colours(order: Sequence[str]) -> dict[str, str]:
    return {t: "tu" if t == UNGRADED else f"t{min(i, 5)}" for i, t in enumerate(order)}


def _chart(kind: str, labels: list[str], series: list[tuple[str, list[int]]], colours: dict[str, str]
           ) -> dict[str, Any]:
    return {"id": f"chart-{kind}", "labels": labels, "colours": [colours[t] for t in labels],
            "series": [{"label": s, "data": d} for s, d in series]}


def score_page(events: Path, rules: Rules, as_of: int, rows: Sequence[Row], tally: ChangeTally,
               lines: int, rejected: int, limit: int = 20) -> dict[str, Any]:
    """The page model of a ``score`` report: facts, then a :class:`Section` per entity type with entities."""
    counts = distribution(rows)
    sections = []
    for kind in ENTITY_TYPES:
        mine = [r for r in rows if r[0][0] == kind]
        if not mine:
            continue
        order = tier_order(kind, rules, seen=[t for k, t in counts if k == kind])
        dist = [(t, counts[(kind, t)]) for t in order if counts[(kind, t)]]
        colours = _colours(order)
        sections.append(Section(
            kind, len(mine), dist, matrix(tally.transitions, kind, order),
            [(b.heading, [("", b)]) for b in breakdowns(mine, kind, order)],
            score_movers(mine, tally, limit),
            _chart(kind, [t for t, _ in dist], [("entities", [n for _, n in dist])], colours), colours,
        ))
    return {
        "mode": "score",
        "title": f"Tiers of {events.name}",
        "facts": [("events", str(events)), ("rules", rules.version), ("as of", _when(as_of)),
                  ("entities", f"{len(rows):,}"), ("lines read", f"{lines:,}"), ("lines rejected", f"{rejected:,}"),
                  ("tier changes", f"{sum(tally.transitions.values()):,}")],
        "matrix_caption": "tier changes over the history: from the previous tier (- : first grading) to the new",
        "movers_caption": "most tier changes since the first grading, then largest score move",
        "sections": sections,
    }


def diff_page(events: Path, old: Rules, new: Rules, as_of: int, old_rows: Sequence[Row], new_rows: Sequence[Row],
              old_changes: ChangeTally | None, new_changes: ChangeTally | None, limit: int = 20) -> dict[str, Any]:
    """The page model of a ``rules diff`` report: both distributions side by side, OLD -> NEW per entity."""
    before, after = distribution(old_rows), distribution(new_rows)
    tiers_new = {key: tier for key, tier, _ in new_rows}
    tiers_old = {key: tier for key, tier, _ in old_rows}
    keys = tiers_old.keys() | tiers_new.keys()
    moves = Counter((key[0], tiers_old.get(key, INITIAL), tiers_new.get(key, INITIAL)) for key in keys)
    sections = []
    for kind in ENTITY_TYPES:
        mine_old = [r for r in old_rows if r[0][0] == kind]
        mine_new = [r for r in new_rows if r[0][0] == kind]
        if not mine_old and not mine_new:
            continue
        order = tier_order(kind, old, new, seen=[t for k, t in before | after if k == kind])
        dist = [(t, before[(kind, t)], after[(kind, t)]) for t in order if before[(kind, t)] or after[(kind, t)]]
        colours = _colours(order)
        panels: dict[str, list[tuple[str, Breakdown]]] = {}
        for caption, mine, version in (("OLD", mine_old, old.version), ("NEW", mine_new, new.version)):
            for b in breakdowns(mine, kind, order):
                panels.setdefault(b.heading, []).append((f"{caption} ({version})", b))
        sections.append(Section(
            kind, len({r[0] for r in mine_old} | {r[0] for r in mine_new}), dist, matrix(moves, kind, order),
            list(panels.items()), diff_movers(mine_old, mine_new, old_changes, new_changes, limit),
            _chart(kind, [d[0] for d in dist], [(f"OLD {old.version}", [d[1] for d in dist]),
                                                 (f"NEW {new.version}", [d[2] for d in dist])], colours),
            colours,
        ))
    entities = len(keys)
    moved = sum(n for (_, a, b), n in moves.items() if a != b)
    return {
        "mode": "diff",
        "title": f"Rules {old.version} -> {new.version} on {events.name}",
        "facts": [("events", str(events)), ("OLD rules", old.version), ("NEW rules", new.version),
                  ("as of", _when(as_of)), ("entities", f"{entities:,}"), ("would move", f"{moved:,}")],
        "matrix_caption": "each entity's tier under OLD (a row) and under NEW (a column)",
        "movers_caption": "entities whose tier differs, largest score difference first",
        "sections": sections,
    }


def _environment() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["signed"] = lambda n: "0" if not n else f"{n:+,}" if isinstance(n, int) else f"{n:+,.2f}"
    return env


def _inline_script(text: str) -> Markup:
    """A script's text, safe inside ``<script>``: a ``</`` cannot end the element early."""
    return Markup(text.replace("</", "<\\/"))


def render(page: dict[str, Any], generated_at: datetime | None = None) -> str:
    """The page as one self-contained HTML document."""
    template = _environment().from_string(asset_text(TEMPLATE))
    when = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    charts = [s.chart for s in page["sections"]]
    return template.render(
        **page, generated_at=when, charts=charts,
        css=_inline_script(asset_text("report.css")),
        chart_js=_inline_script(asset_text(CHART_JS)),
        report_js=_inline_script(asset_text("report.js")),
    )


def write_report(path: Path, page: dict[str, Any]) -> None:
    """Write the page to ``path`` (UTF-8)."""
    path.write_text(render(page), "utf-8")
