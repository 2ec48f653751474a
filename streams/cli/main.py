"""The ``tierstream`` command.

Offline commands (score, rules, sample, schema) never import Faust, so they
start fast; the streaming commands (dev, worker, publish, watch, snapshot,
bench) live in :mod:`streams.cli.stream` and are attached below.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click
import orjson
from pydantic import TypeAdapter, ValidationError

from tierstream.schemas.errors import RulesError
from tierstream.schemas.rules import load_rules

_DT: TypeAdapter[datetime] = TypeAdapter(datetime)


def _instant(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        dt = _DT.validate_python(value)
    except ValidationError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 timestamp (e.g. 2026-11-01T00:00:00Z)") from None
    if dt.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no timezone offset (add Z or +08:00)")
    return int(dt.timestamp())


def _rules(path: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_rules(path)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tierstream")
def main() -> None:
    """tierstream: real-time tiers for customers and suppliers.

    \b
    Offline (no broker needed):
      tierstream sample --customers 2000 --suppliers 200 --days 365 --out events.jsonl
      tierstream score events.jsonl --out state.jsonl --changes changes.jsonl
      tierstream rules check my_rules.yaml
      tierstream rules diff old.yaml new.yaml events.jsonl
    Streaming:
      tierstream dev --replay events.jsonl     embedded broker + worker + web, prints changes
      tierstream worker                        against TIERSTREAM_KAFKA_BOOTSTRAP / _REDIS_URL
      tierstream publish | watch | snapshot    the client side
    """


@main.command()
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="rules YAML (default: the packaged rules)")
@click.option("--as-of", "as_of", metavar="RFC3339",
              help="grade as of this instant; later events are skipped (default: the latest event time)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write one JSON line per entity: tier, score, segment, components, aggregates, window")
@click.option("--changes", type=click.Path(dir_okay=False, path_type=Path),
              help="write every TierChange in the order it happened")
@click.option("--strict", is_flag=True, help="stop at the first invalid line (exit 2); runs in one process")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="processes to score in (default: one per core, at most 8); the output is the same "
                   "for any N")
def score(events: Path, rules_path: Path | None, as_of: str | None, out: Path | None,
          changes: Path | None, strict: bool, workers: int | None) -> None:
    """Grade EVENTS.jsonl offline with the same scorers as the stream.

    Events are taken in file order (unsorted input works). Invalid lines are
    reported with their line number and skipped; the counts come at the end.
    With several cores the entities are split between processes (referral
    partners stay together) and the results merged in file order: STATE and
    CHANGES are byte for byte those of one process.
    """
    from tierstream.schemas.errors import InputError
    from tierstream.streams.cli.progress import Progress
    from tierstream.streams.offline.parallel import ParallelRun, default_workers, score_parallel
    from tierstream.streams.offline.score import OfflineScorer, read_lines, run

    rules = _rules(rules_path)
    instant_as_of = _instant(as_of)
    started = time.perf_counter()
    workers = 1 if strict else (workers or default_workers())
    total = events.stat().st_size
    changes_fh = changes.open("wb") if changes else None
    try:
        with Progress(total, "scoring (bytes)") as bar:
            if workers > 1:
                res = score_parallel(events, rules, workers, instant_as_of, changes_fh, on_progress=bar.update)
            else:
                scorer = OfflineScorer(rules, as_of=instant_as_of)

                def lines() -> Iterator[tuple[int, bytes]]:
                    for lineno, raw in read_lines(events):
                        bar.update(len(raw) + 1)
                        yield lineno, raw
                try:
                    instant = run(scorer, lines(), changes_fh, strict=strict)
                except InputError as exc:
                    click.echo(f"error: {events}:{exc}", err=True)
                    sys.exit(2)
                snaps = [((s.entity_type, s.entity_id), s.tier, orjson.dumps(s.model_dump(mode="json")))
                         for s in scorer.snapshots(instant)]
                scorer.report.seconds = time.perf_counter() - started  # as the parallel run counts it
                res = ParallelRun(instant, scorer.report, snaps, 1)
    finally:
        if changes_fh:
            changes_fh.close()
    rep = res.report
    if res.fell_back:
        click.echo(f"note: scored in one process ({res.fell_back})", err=True)
    for err in rep.errors:
        click.echo(f"rejected {events}:{err}", err=True)
    if rep.invalid > len(rep.errors):
        click.echo(f"... and {rep.invalid - len(rep.errors)} more rejected lines", err=True)
    if out:
        with out.open("wb") as fh:
            for _, _, line in res.snapshots:
                fh.write(line + b"\n")
    dist = Counter((kind, tier) for (kind, _), tier, _ in res.snapshots)
    click.echo(rep.summary() + (f" [{res.shards} processes]" if res.shards > 1 else ""), err=True)
    when = datetime.fromtimestamp(res.as_of).astimezone().isoformat()
    click.echo(f"as of {when}: {len(res.snapshots):,} entities", err=True)
    for (kind, tier), n in sorted(dist.items()):
        click.echo(f"  {kind:9} {tier:12} {n:8,}", err=True)


@main.group()
def rules() -> None:
    """Check grading rules, and try a rule change on history."""


@rules.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rules_check(file: Path) -> None:
    """Validate a rules FILE: weights sum to 1, metrics known, tiers don't overlap."""
    r = _rules(file)
    click.echo(f"{file}: OK (version {r.version})")
    for kind, er in (("customer", r.customer), ("supplier", r.supplier)):
        dims = ", ".join(f"{n} {d.weight:g}" for n, d in er.dimensions.items())
        tiers = " > ".join(f"{t.name} {t.min_score:g}" for t in er.tiers)
        click.echo(f"  {kind}: window {er.window_days} d; {dims}; tiers {tiers}")


@rules.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", "as_of", metavar="RFC3339", help="compare as of this instant")
@click.option("--limit", default=50, show_default=True, help="how many movers to list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="processes per rule set (default: one per core, at most 8), as for `score`")
def rules_diff(old: Path, new: Path, events: Path, as_of: str | None, limit: int, as_json: bool,
               workers: int | None) -> None:
    """What changing OLD rules to NEW would do on the history in EVENTS.

    Prints the tier distribution under each and the entities that would move.
    Both rule sets grade the same events as of the same instant.
    """
    from tierstream.streams.offline.parallel import default_workers
    from tierstream.streams.offline.rules_diff import diff_rules, render

    result = diff_rules(_rules(old), _rules(new), events, _instant(as_of), workers or default_workers())
    click.echo(render(result, limit, as_json))


@main.command()
@click.option("--customers", default=2000, show_default=True)
@click.option("--suppliers", default=200, show_default=True)
@click.option("--days", default=365, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def sample(customers: int, suppliers: int, days: int, seed: int, out: Path) -> None:
    """Write a realistic, reproducible mixed event file (with late, duplicated and invalid lines)."""
    from tierstream.streams.cli.progress import Progress
    from tierstream.streams.dev.sample import estimate_lines, write_sample

    with Progress(estimate_lines(customers, suppliers, days), "sample") as bar:
        stats = write_sample(out, customers, suppliers, days, seed, on_progress=bar.update)
    click.echo(f"{out}: {stats}", err=True)


@main.group()
def schema() -> None:
    """JSON Schemas of every message tierstream reads or writes."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write one JSON Schema file per message into DIRECTORY."""
    from tierstream.schemas.export import export_schemas

    for path in export_schemas(directory):
        click.echo(str(path))


from tierstream.streams.cli.run import attach_run  # noqa: E402 - commands register on the group above

attach_run(main)

try:  # the client commands (publish, watch, snapshot)
    from tierstream.streams.cli.stream import attach as _attach_stream
except ImportError as _exc:  # pragma: no cover - only without the streaming dependencies
    if "tierstream.streams.cli.stream" not in str(_exc):
        raise
else:
    _attach_stream(main)


from tierstream.streams.cli.bench import attach_bench  # noqa: E402 - `tierstream bench`

attach_bench(main)


if __name__ == "__main__":
    main()
