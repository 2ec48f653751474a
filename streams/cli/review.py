"""``tierstream review``: what is due for a person to look at, as of an instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tierstream.streams.cli.main import cli_language, cli_rules, cli_settings, parse_instant, progress_bar

if TYPE_CHECKING:
    from tierstream.scorers.review import ReviewRow

__all__ = ["review"]


@click.command("review")
@click.argument("events", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="rules YAML (default: TIERSTREAM_RULES without EVENTS, else the packaged rules)")
@click.option("--as-of", "as_of", metavar="RFC3339",
              help="review as of this instant (default: the latest event time)")
@click.option("--within-days", default=14, show_default=True, type=click.IntRange(min=0), metavar="N",
              help="list the assessments expiring within N days (N x 24 hours) of the as-of")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--entity-type", type=click.Choice(["customer", "supplier"]), help="only this kind of entity")
@click.option("--language", type=click.Choice(["en", "zh", "es"]), default=None,
              help="the language of the detail column (default: TIERSTREAM_LANGUAGE, else en)")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              metavar="SECONDS", help="without EVENTS: give up if the table changelog cannot be read in time")
def review(events: Path | None, rules_path: Path | None, as_of: str | None, within_days: int, fmt: str,
           entity_type: str | None, language: str | None, timeout_s: float) -> None:
    """List what is due for a person to review as of an instant (定期复审), soonest first.

    With EVENTS.jsonl, over the file graded offline as `tierstream score`
    grades it; without, over the running service's state, every partition
    (the worker's table read from its changelog, as `tierstream snapshot`).

    \b
    Kinds of row:
      assessment_expiring  a prospect assessment or tier override in force at the
                           as-of that expires within --within-days (due: its expiry)
      held_by_hysteresis   the tier is kept only by hysteresis: the score is under
                           the tier's minimum (due: the as-of; the detail says by
                           how much and what gets it back)
      rectification_open   a supplier's rectification case is open, whatever its
                           deadline (due: the deadline, when it is re-assessed)
      supplier_watch       a supplier's score left the tier hysteresis keeps (a
                           supplier_watch notice in force; due: the as-of; the
                           detail says when the downgrade takes effect)

    \b
    Columns: due_date (rules' time zone), entity_type, entity_id, kind, tier, detail.

    \b
    Examples:
      tierstream review events.jsonl --as-of 2026-03-01T00:00:00Z
      due_date    entity_type  entity_id  kind                 tier  detail
      2026-03-01  customer     c1         held_by_hysteresis   key   held in key by hysteresis: score 66 ...
      2026-03-06  supplier     s1         assessment_expiring  good  tier override to good by ana expires ...
      tierstream review --within-days 30 --format csv > due.csv      # the running service
      tierstream review events.jsonl --entity-type supplier --format json
      tierstream review events.jsonl --language zh   # details in Chinese (or es)
    """
    language = language or cli_language()
    if events is not None:
        instant, rows = _from_file(events, rules_path, parse_instant(as_of), within_days, entity_type)
    else:
        instant, rows = _from_service(rules_path, parse_instant(as_of), within_days, entity_type, timeout_s)
    from tierstream.scorers.outcome import utc
    from tierstream.streams.offline.review import render

    when = utc(instant).isoformat().replace("+00:00", "Z")
    rows = [r.worded(language) for r in rows]
    sys.stdout.write(render(rows, fmt, when))  # type: ignore[arg-type]  # click.Choice checked it
    click.echo(f"as of {when}: {len(rows):,} rows due for review", err=True)


def _from_file(events: Path, rules_path: Path | None, instant: int | None, within_days: int,
               entity_type: str | None) -> tuple[int, list[ReviewRow]]:
    """Return the as-of and the rows of an events file, with a progress bar over its bytes."""
    from tierstream.streams.offline.review import review_file

    rules = cli_rules(rules_path)
    with progress_bar(events.stat().st_size, "grading", "B", unit_scale=True) as advance:
        return review_file(events, rules, as_of=instant, within_days=within_days, entity_type=entity_type,
                           on_progress=advance)


def _from_service(rules_path: Path | None, instant: int | None, within_days: int, entity_type: str | None,
                  timeout_s: float) -> tuple[int, list[ReviewRow]]:
    """Return the as-of and the rows of the service's state (default as-of: the latest entity clock)."""
    from tierstream.scorers.engine import Grader
    from tierstream.scorers.review import review_rows
    from tierstream.streams.client import ClientError, entity_states

    settings = cli_settings()
    rules = cli_rules(rules_path or settings.rules)
    try:
        states = entity_states(settings, timeout_s)
    except (ClientError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    states.sort(key=lambda s: (s.kind, s.entity_id))
    at = instant if instant is not None else max((s.clock for s in states), default=0)
    with progress_bar(len(states), "reviewing", "entities") as advance:
        rows = review_rows(states, Grader(rules), at, within_days, entity_type=entity_type, on_progress=advance)
    return at, rows
