"""``tierstream rules check`` and ``tierstream rules diff``: rules files, and a rule change tried on history."""

from __future__ import annotations

from pathlib import Path

import click

from tierstream.streams.cli.main import cli_rules, parse_instant
from tierstream.streams.cli.tables import Format, format_option, rows_text

__all__ = ["rules"]


@click.group()
def rules() -> None:
    """Check grading rules, and try a rule change on history."""


@rules.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rules_check(file: Path) -> None:
    """Validate a rules FILE: weights sum to 1, metrics known, tiers don't overlap."""
    r = cli_rules(file)
    when = f"from {r.effective_from.isoformat()}" if r.effective_from is not None else "at once"
    click.echo(f"{file}: OK (version {r.version}, sha256 {r.sha256[:12]}..., in force {when}, regrade {r.regrade})")
    for kind, er in (("customer", r.customer), ("supplier", r.supplier)):
        dims = ", ".join(f"{n} {d.weight:g}" for n, d in er.dimensions.items())
        tiers = " > ".join(f"{t.name} {t.min_score:g}" for t in er.tiers)
        click.echo(f"  {kind}: window {er.window_days} d; {dims}; tiers {tiers}")


@rules.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", "as_of", metavar="RFC3339", help="compare as of this instant")
@click.option("--limit", default=50, show_default=True, help="how many movers to list (in the table and the report)")
@click.option("--json", "as_json", is_flag=True,
              help="the whole diff as one JSON document: versions, entities, both distributions, movers")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="processes per rule set (default: one per core, at most 8), as for `score`")
@click.option("--by", "by", metavar="ATTRIBUTE",
              help="break both distributions down by a profile field or attribute, group, segment or loyalty")
@format_option("the tables")
@click.option("--table", "table", type=click.Choice(["distribution", "movers"]), default=None,
              help="print only this table (default: both as a table; the distribution as CSV or JSON)")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path),
              help="write one self-contained HTML page (opens offline): both distributions side by side, each "
                   "entity's tier under OLD -> under NEW, the movers with their reasons under each rule set, "
                   "tiers by RFM segment and by group")
def rules_diff(old: Path, new: Path, events: Path, as_of: str | None, limit: int, as_json: bool,
               workers: int | None, by: str | None, fmt: Format, table: str | None, report: Path | None) -> None:
    """What changing OLD rules to NEW would do on the history in EVENTS.

    Prints the tier distribution under each and the entities that would move.
    Both rule sets grade the same events as of the same instant.

    \b
    Examples:
      tierstream rules diff schemas/default_rules.yaml mine.yaml events.jsonl
      tierstream rules diff OLD NEW events.jsonl --format csv --table movers > movers.csv
      tierstream rules diff OLD NEW events.jsonl --report diff.html
    """
    from tierstream.streams.offline.parallel import default_workers
    from tierstream.streams.offline.rules_diff import diff_rules, distribution_rows, mover_rows, render

    old_rules, new_rules = cli_rules(old), cli_rules(new)
    result = diff_rules(old_rules, new_rules, events, parse_instant(as_of), workers or default_workers(), by=by,
                        explain=report is not None)
    if as_json or fmt == "table":
        click.echo(render(result, limit, as_json, table))
    else:
        columns, rows = mover_rows(result, limit) if table == "movers" else distribution_rows(result)
        click.echo(rows_text(columns, rows, fmt), nl=False)
    if report is not None:
        from tierstream.streams.offline.report_html import diff_page, write_report

        write_report(report, diff_page(events, old_rules, new_rules, result.as_of, result.old_rows,
                                       result.new_rows, result.old_changes, result.new_changes, limit))
        click.echo(f"report: {report} (open it in a browser; it needs no network)", err=True)
