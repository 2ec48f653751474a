"""``tierstream review`` as a library: the rows due over a file or over states, and their table, CSV and JSON.

Over a file, the events are graded in one process as ``tierstream score`` grades
them (every review due up to the as-of included); over states (the worker's table
or the changelog) they are taken as they are. :mod:`tierstream.scorers.review`
decides what is due.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from tierstream.schemas.rules import Rules
from tierstream.scorers.review import COLUMNS, ReviewRow, review_rows
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

__all__ = ["ReviewFormat", "render", "review_file"]

ReviewFormat = Literal["table", "csv", "json"]


def review_file(
    path: Path,
    rules: Rules,
    *,
    as_of: int | None = None,
    within_days: int = 14,
    entity_type: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[int, list[ReviewRow]]:
    """Grade the events of ``path`` up to ``as_of`` (default: the latest event time); return it and the rows due.

    ``on_progress`` is given the bytes read since its last call. Invalid lines are
    skipped, as ``tierstream score`` skips them.
    """
    scorer = OfflineScorer(rules, as_of=as_of)
    instant = run(scorer, read_lines(path, on_progress))
    states = (scorer.states[k] for k in sorted(scorer.states))
    return instant, review_rows(states, scorer.grader, instant, within_days, entity_type=entity_type)


def render(rows: Sequence[ReviewRow], fmt: ReviewFormat, as_of: str) -> str:
    """Return ``rows`` as an aligned text table, CSV (with a header) or a JSON document."""
    if fmt == "json":
        doc = {"as_of": as_of, "count": len(rows), "rows": [r.as_dict() for r in rows]}
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([r.due_date, r.entity_type, r.entity_id, r.kind, r.tier, r.detail])
        return buf.getvalue()
    if not rows:
        return f"nothing due for review as of {as_of}\n"
    cells = [list(COLUMNS)] + [[r.due_date, r.entity_type, r.entity_id, r.kind, r.tier, r.detail] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join([*(c[i].ljust(widths[i]) for i in range(len(widths))), c[-1]]).rstrip() for c in cells]
    return "\n".join(lines) + "\n"
