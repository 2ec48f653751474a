"""``tierstream sources check``: a sources file, and what upstream messages become through it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tierstream.streams.cli.main import cli_rules, cli_sources

__all__ = ["sources"]


@click.group()
def sources() -> None:
    """Read events from the topics that already exist: any key, any name, any field layout.

    \b
    A sources file (YAML) names, per source, the topics it reads, the payload
    format (plain JSON or a Debezium change event) and where each event field
    is found. The worker reads it from TIERSTREAM_SOURCES; `tierstream score
    --sources` maps captured messages the same way. Example:

    \b
      sources:
        erp_orders:
          topics: [erp.orders.v1]
          type: order
          fields:
            order_id: {path: id, transform: string}
            customer_id: customer.code
            amount: {path: total_cents, transform: cents}
            occurred_at: {path: created_ms, transform: epoch_ms}
            status: {path: state, map: {NEW: placed, CANCELED: cancelled}}
          event_id_from: [order_id, status]
    """


@sources.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("sample", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_name", metavar="NAME",
              help="SAMPLE lines are payloads of this source (default: captured messages {topic, key, value})")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="rules YAML whose timezone reads local times (default: the packaged rules)")
@click.option("--json", "as_json", is_flag=True, help="print only the mapped events, one JSON line each")
def check(file: Path, sample: Path | None, source_name: str | None, rules_path: Path | None,
          as_json: bool) -> None:
    """Validate a sources FILE; with SAMPLE, show what each of its lines becomes.

    Each line shows its event (type, entity and JSON), that it grades nothing
    (a tombstone, an update that is no retraction), or why the worker would
    dead-letter it: the source and the field at fault. Exits 1 when a line fails.
    """
    from tierstream.schemas.errors import InputError, MappingError
    from tierstream.schemas.mapping import Sources
    from tierstream.streams.offline.score import OfflineScorer, read_lines
    from tierstream.streams.offline.sources import map_line

    parsed = cli_sources(file)
    mappers = Sources(parsed, cli_rules(rules_path).timezone)
    if sample is None:
        click.echo(f"{file}: OK")
        for name, src in parsed.sources.items():
            what = src.type or "mapped per message"
            fields = ", ".join(src.fields) if src.fields is not None else "the payload as it is"
            click.echo(f"  {name}: {', '.join(src.topics)} ({src.format}, {what}): {fields}")
        return
    single = None
    if source_name is not None:
        if source_name not in parsed.sources:
            raise click.BadParameter(f"no source {source_name!r} in {file} ({', '.join(parsed.sources)})",
                                     param_hint="--source")
        single = mappers.for_topic(parsed.sources[source_name].topics[0])
    mapped = ignored = failed = 0
    for lineno, raw in read_lines(sample):
        try:
            if single is not None:
                try:
                    value = single.map(raw)
                except MappingError as exc:
                    raise InputError(lineno, str(exc), kind="mapping_error") from None
            else:
                value = map_line(mappers, lineno, raw)
            if value is None:
                ignored += 1
                if not as_json:
                    click.echo(f"line {lineno}: grades nothing (a tombstone, or a change that is no retraction)")
                continue
            event = OfflineScorer.decode(lineno, value)
        except InputError as exc:
            failed += 1
            click.echo(f"line {lineno}: {exc.kind}: {exc.message}", err=as_json)
            continue
        mapped += 1
        if as_json:
            click.echo(value.decode())
        else:
            from tierstream.schemas.events import entity_of

            kind, eid = entity_of(event)
            click.echo(f"line {lineno}: {event.type} for {kind} {eid}: {value.decode()}")
    click.echo(f"{mapped:,} mapped, {ignored:,} grading nothing, {failed:,} failed", err=True)
    if failed:
        sys.exit(1)
