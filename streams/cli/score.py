"""``tierstream score``: grade an events file offline."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import click

from tierstream.streams.cli.main import cli_language, cli_rules, cli_sources, parse_instant, progress_bar
from tierstream.streams.cli.tables import Format, format_option, rows_text

if TYPE_CHECKING:
    from tierstream.schemas.rules import Rules
    from tierstream.streams.offline.report_data import ChangeTally
    from tierstream.streams.offline.scoring import ScoreResult

__all__ = ["score"]


@click.command()
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="rules YAML (default: the packaged rules)")
@click.option("--as-of", "as_of", metavar="RFC3339",
              help="grade as of this instant; later events are skipped (default: the latest event time)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write one JSON line per entity: tier, score, segment, components, aggregates, window")
@click.option("--changes", type=click.Path(dir_okay=False, path_type=Path),
              help="write every TierChange in the order it happened")
@click.option("--notices", type=click.Path(dir_okay=False, path_type=Path),
              help="write every early warning (TierNotice: at risk, supplier watch, approaching, assessment "
                   "expiring) in the order it happened, as the stream's tier-notices topic has them")
@click.option("--cases", type=click.Path(dir_okay=False, path_type=Path),
              help="write every supplier rectification case event (SupplierCase: opened, closed, escalated) "
                   "in the order it happened, as the stream's supplier-cases topic has them")
@click.option("--audit", "audit", type=click.Path(dir_okay=False, path_type=Path),
              help="write the audit record (AuditEntry: kind, value, author, reason, occurred_at, expires_at, "
                   "status accepted or refused: <why>) of every manual assessment and override graded, in file "
                   "order, as the stream's audit topic has them (GET /audit serves them)")
@click.option("--rejects", "rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="write every rejected line (invalid, too old, too new) as a JSON line: "
                   "line, field, value, message, kind")
@click.option("--strict", is_flag=True, help="stop at the first invalid line (exit 2); runs in one process")
@click.option("--sources", "sources_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="sources YAML: each line of EVENTS is a captured message {topic, key, value}, mapped as "
                   "the worker maps it (see `tierstream sources --help`)")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="processes to score in (default: one per core, at most 8); the output is the same "
                   "for any N")
@click.option("--language", type=click.Choice(["en", "zh", "es"]), default=None,
              help="the language of reasons, hints and messages in STATE, CHANGES and NOTICES (default: "
                   "TIERSTREAM_LANGUAGE, else en)")
@click.option("--by", "by", metavar="ATTRIBUTE",
              help="break the tier distribution down by a profile field or attribute (business_nature, "
                   "need_type, region...), group, segment or loyalty")
@format_option("the tier distribution (with --by, its breakdown)")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path),
              help="write one self-contained HTML page (opens offline): the tier distribution, the transition "
                   "matrix of the history's tier changes, the top movers with their reasons, tiers by RFM "
                   "segment and by group")
def score(events: Path, rules_path: Path | None, as_of: str | None, out: Path | None,
          changes: Path | None, notices: Path | None, cases: Path | None, audit: Path | None,
          rejects: Path | None, strict: bool, sources_path: Path | None, workers: int | None,
          language: str | None, by: str | None, fmt: Format, report: Path | None) -> None:
    """Grade EVENTS.jsonl offline with the same scorers as the stream.

    Events are taken in file order (unsorted input works). Rejected lines
    (invalid, or too old / too new for their entity) are skipped; the first
    ones are shown with their line number, all of them go to --rejects; the
    counts come at the end.
    With --sources, EVENTS holds captured messages of the upstream topics
    ({"topic": "erp.orders.v1", "key": "O-1", "value": {...}} per line), mapped
    first: a line that does not map is rejected with kind mapping_error.
    --format csv|json prints the distribution's rows alone on stdout; --report
    writes a page to open in a browser (no network needed).
    With several cores the entities are split between processes (referral
    partners stay together) and the results merged in file order: STATE,
    CHANGES, NOTICES, CASES and AUDIT are byte for byte those of one process.
    """
    from tierstream.schemas.errors import InputError
    from tierstream.schemas.outputs import TierChange, TierNotice
    from tierstream.scorers.wording import RewordedLines

    rules = cli_rules(rules_path)
    instant = parse_instant(as_of)
    language = language or cli_language()
    changes_fh = changes.open("wb") if changes else None
    rejects_fh = rejects.open("wb") if rejects else None
    notices_fh = notices.open("wb") if notices else None
    cases_fh = cases.open("wb") if cases else None
    tally = _tally(changes_fh) if report is not None else None
    audit_fh = audit.open("wb") if audit else None
    try:
        with ExitStack() as stack:
            graded = events
            if sources_path is not None:
                from tierstream.schemas.mapping import Sources
                from tierstream.streams.offline.sources import mapped_file

                sources = Sources(cli_sources(sources_path), rules.timezone)
                with progress_bar(events.stat().st_size, "mapping", "B", unit_scale=True) as advance:
                    graded = stack.enter_context(mapped_file(events, sources, advance))
            worded_changes: IO[bytes] | None = cast("IO[bytes]", tally) if tally is not None else changes_fh
            worded_notices: IO[bytes] | None = notices_fh
            if language != "en":
                if worded_changes is not None:
                    worded_changes = cast(IO[bytes], RewordedLines(worded_changes, TierChange, language))
                if notices_fh is not None:
                    worded_notices = cast(IO[bytes], RewordedLines(notices_fh, TierNotice, language))
            res = _score(graded, rules, instant, workers, strict, worded_changes, rejects_fh, language, worded_notices,
                         cases_fh, audit_fh)
    except InputError as exc:
        click.echo(f"error: {events}:{exc}", err=True)
        sys.exit(2)
    finally:
        for fh in (changes_fh, rejects_fh, notices_fh, cases_fh, audit_fh):
            if fh:
                fh.close()
    rep = res.report
    if res.fell_back:
        click.echo(f"note: scored in one process ({res.fell_back})", err=True)
    for err in rep.errors:
        click.echo(f"rejected {events}:{err}", err=True)
    more = rep.rejects - len(rep.errors)
    if rejects and rep.rejects:
        click.echo(f"all {rep.rejects:,} rejected lines (invalid, too old, too new) are in {rejects}", err=True)
    elif more > 0:
        click.echo(f"... and {more:,} more rejected lines (--rejects FILE writes them all)", err=True)
    if out:
        with out.open("wb") as fh:
            res.write_state(fh)
    click.echo(rep.summary() + (f" [{res.processes} processes]" if res.processes > 1 else ""), err=True)
    when = datetime.fromtimestamp(res.as_of).astimezone().isoformat()
    click.echo(f"as of {when}: {len(res.rows):,} entities", err=True)
    if fmt != "table":
        columns, rows = _distribution_rows(res, by)
        click.echo(rows_text(columns, rows, fmt), nl=False)
    elif by is None:
        for (kind, tier), n in sorted(res.tiers().items()):
            click.echo(f"  {kind:9} {tier:12} {n:8,}", err=True)
    else:
        cells = sorted(res.tiers(by).items())
        width = max([20, len(by), *(len(key[1]) for key, _ in cells)])  # values in full: the rows of csv, json
        click.echo(f"  {'entity':9} {by:{width}} {'tier':12} {'count':>8}", err=True)
        for (kind, value, tier), n in cells:
            click.echo(f"  {kind:9} {value:{width}} {tier:12} {n:8,}", err=True)
    loyalty = res.loyalty()
    if loyalty:
        from tierstream.schemas.loyalty import LOYALTY_CLASSES

        counts = ", ".join(f"{name} {loyalty[name]:,}" for name in LOYALTY_CLASSES)
        click.echo(f"  loyalty of the {sum(loyalty.values()):,} customers with an order: {counts}", err=True)
    if report is not None:
        from tierstream.streams.offline.report_html import score_page, write_report

        assert tally is not None
        write_report(report, score_page(events, rules, res.as_of, res.rows, tally, rep.lines, rep.rejects))
        click.echo(f"report: {report} (open it in a browser; it needs no network)", err=True)


def _tally(changes_fh: IO[bytes] | None) -> ChangeTally:
    """A sink of the tier changes that counts them for the report, and writes them on to ``--changes``."""
    from tierstream.streams.offline.report_data import ChangeTally

    return ChangeTally(changes_fh)


def _distribution_rows(res: ScoreResult, by: str | None) -> tuple[list[str], list[tuple[object, ...]]]:
    """The rows of the distribution table: entity type, (the value of ``by``,) tier, count."""
    if by is None:
        return ["entity_type", "tier", "count"], [(k, t, n) for (k, t), n in sorted(res.tiers().items())]
    column = by if by not in ("entity_type", "tier", "count") else f"by_{by}"
    return ["entity_type", column, "tier", "count"], [(k, v, t, n) for (k, v, t), n in sorted(res.tiers(by).items())]


def _score(events: Path, rules: Rules, instant: int | None, workers: int | None, strict: bool,
           changes_fh: IO[bytes] | None, rejects_fh: IO[bytes] | None, language: str = "en",
           notices_fh: IO[bytes] | None = None, cases_fh: IO[bytes] | None = None,
           audit_fh: IO[bytes] | None = None) -> ScoreResult:
    """``score_file`` with a progress bar over ``events``."""
    from tierstream.streams.offline.scoring import score_file

    with progress_bar(events.stat().st_size, "scoring", "B", unit_scale=True) as advance:
        return score_file(events, rules, as_of=instant, workers=workers, strict=strict,
                          changes_out=changes_fh, on_progress=advance, rejects_out=rejects_fh, language=language,
                          notices_out=notices_fh, cases_out=cases_fh, audit_out=audit_fh)

