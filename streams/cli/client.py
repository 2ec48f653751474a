"""``tierstream publish``, ``watch`` and ``snapshot``: the client side (kafka-python).

Nothing heavy is imported at module level (no Kafka client): each command
imports what it needs when it runs.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from tierstream.streams.cli.main import cli_rules, cli_settings, parse_instant, progress_bar

if TYPE_CHECKING:
    from tierstream.schemas.outputs import Direction, TierChange
    from tierstream.schemas.settings import Settings
    from tierstream.streams.client import EntityTypeFilter

__all__ = ["client_settings", "format_change", "publish_cmd", "snapshot_cmd", "watch_cmd"]

F = TypeVar("F", bound=Callable[..., Any])

_KAFKA_ENV = """\b
Environment (prefix TIERSTREAM_):
  KAFKA_BOOTSTRAP            host:port[,host:port]  (--bootstrap overrides it; unset:
                             the broker of a running `tierstream dev`, else 127.0.0.1:9092)
  DEV_FILE                   where `tierstream dev` writes its endpoints
                             (default ${XDG_STATE_HOME:-~/.local/state}/tierstream/dev.json)
  KAFKA_SECURITY_PROTOCOL    PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
  KAFKA_SASL_MECHANISM       PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD
  KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE, KAFKA_SSL_KEYFILE
  TOPIC_PREFIX (default "tierstream.")"""


def _bootstrap_option(func: F) -> F:
    return click.option(
        "--bootstrap",
        metavar="HOST:PORT[,...]",
        help="Kafka bootstrap servers (overrides TIERSTREAM_KAFKA_BOOTSTRAP)",
    )(func)


def client_settings(bootstrap: str | None) -> Settings:
    """Return the settings of a client command, the broker found, or exit with one line saying where to look.

    The broker is ``--bootstrap``, else ``TIERSTREAM_KAFKA_BOOTSTRAP``, else the one of a
    running ``tierstream dev`` (its endpoints file, which also gives its Redis unless
    ``TIERSTREAM_REDIS_URL`` is set), else 127.0.0.1:9092. Nothing listening there ends
    the command within about 3 seconds instead of the Kafka client's 10.
    """
    from tierstream.streams.dev.endpoints import endpoints_path, read_endpoints
    from tierstream.streams.kafka.reach import reachable

    settings = cli_settings(bootstrap)
    if bootstrap is not None:
        origin = "--bootstrap"
    elif "kafka_bootstrap" in settings.model_fields_set:
        origin = "TIERSTREAM_KAFKA_BOOTSTRAP"
    else:
        path = endpoints_path(settings)
        found, note = read_endpoints(path)
        if note is not None:
            click.echo(note, err=True)
        if found is None:
            origin = "the default"
        else:
            settings = settings.with_fallback({"kafka_bootstrap": found.kafka_bootstrap, "redis_url": found.redis_url})
            origin = f"the tierstream dev endpoints in {path}"
    if not reachable(settings, timeout_s=3.0):
        raise click.ClickException(
            f"cannot reach Kafka at {settings.kafka_bootstrap} (from {origin}); "
            "start `tierstream dev` or set TIERSTREAM_KAFKA_BOOTSTRAP"
        )
    return settings


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return None


def _jsonl(fh: Any) -> Iterator[tuple[int, bytes]]:
    for lineno, line in enumerate(fh, 1):
        line = line.strip()
        if line:
            yield lineno, line


def format_change(change: TierChange) -> str:
    """``2026-11-01T10:00Z customer c00012 general -> key (upgrade) score 71.2: <reason>``."""
    when = change.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    before = change.previous_tier or "none"
    line = (
        f"{when} {change.entity_type} {change.entity_id} {before} -> {change.tier} "
        f"({change.direction}) score {change.score:.1f}"
    )
    if change.reasons:
        line += f": {change.reasons[0]}"
    return line


# --------------------------------------------------------------------------- publish


@click.command("publish", epilog=_KAFKA_ENV)
@click.argument(
    "events", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="send N events per second (default: as fast as possible)",
)
@_bootstrap_option
def publish_cmd(events: Path, rate: float | None, bootstrap: str | None) -> None:
    """Send EVENTS.jsonl (or - for stdin) to the inbound topics, keyed by entity.

    Each line goes unchanged to TIERSTREAM_TOPIC_PREFIX + orders | invoices |
    payments | deliveries | referrals | service | assessments | profiles, chosen by its "type", with
    the key "<entity_type>:<entity_id>" so an entity's events stay in order.
    Lines that fail validation but have a known type are sent anyway: the
    worker dead-letters them with the reason. Lines that are not JSON objects
    or have no known type are skipped and listed. Start the worker first (it
    creates the topics). Exit status 1 if any event was not delivered.

    \b
    Examples:
      tierstream publish events.jsonl
      head -n 1000 events.jsonl | tierstream publish - --rate 200
    """
    from tierstream.streams.client import ClientError, publish

    settings = client_settings(bootstrap)
    stdin = str(events) == "-"
    total = None if stdin else _count_lines(events)
    fh = sys.stdin.buffer if stdin else events.open("rb")
    try:
        with progress_bar(total, "publishing", "lines") as advance:
            report = publish(settings, _jsonl(fh), rate, on_progress=advance)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if not stdin:
            fh.close()
    for lineno, reason in report.skipped_lines:
        click.echo(f"skipped {events}:{lineno}: {reason}", err=True)
    if report.skipped > len(report.skipped_lines):
        more = report.skipped - len(report.skipped_lines)
        click.echo(f"... and {more:,} more skipped lines", err=True)
    click.echo(report.summary(), err=True)
    for topic, n in sorted(report.per_topic.items()):
        failed = report.per_topic_failed.get(topic, 0)
        note = f"  ({failed:,} failed)" if failed else ""
        click.echo(f"  {topic:32} {n - failed:10,}{note}", err=True)
    if report.failed:
        click.echo(
            f"error: {report.failed:,} events not delivered; first: {report.first_error}", err=True
        )
        sys.exit(1)


# --------------------------------------------------------------------------- watch


@click.command("watch", epilog=_KAFKA_ENV)
@click.option("--entity-type", type=click.Choice(["customer", "supplier"]), help="only this kind")
@click.option(
    "--direction",
    type=click.Choice(["upgrade", "downgrade", "initial", "ungraded"]),
    help="only upgrades, downgrades, or first tiers",
)
@click.option(
    "--from-beginning", is_flag=True, help="replay the topic from its start (default: new only)"
)
@click.option("--json", "as_json", is_flag=True, help="print TierChange JSON lines instead of text")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="exit after SECONDS without a matching change (default: follow until Ctrl-C)",
)
@_bootstrap_option
def watch_cmd(
    entity_type: str | None,
    direction: str | None,
    from_beginning: bool,
    as_json: bool,
    timeout_s: float | None,
    bootstrap: str | None,
) -> None:
    """Print tier changes as the worker emits them (topic TIERSTREAM_TOPIC_PREFIX + tier-changes).

    A plain tail: no consumer group, nothing committed, every partition. One
    line per change:

    \b
      2026-11-01T10:00Z customer c00012 general -> key (upgrade) score 71.2: <first reason>

    For a subscriber that must not miss changes across restarts, use the
    Python API streams.client.TierChangeSubscriber (a consumer group) instead.
    """
    from tierstream.streams.client import ClientError, watch

    settings = client_settings(bootstrap)
    try:
        stream = watch(
            settings,
            entity_type=cast("EntityTypeFilter | None", entity_type),
            direction=cast("Direction | None", direction),
            from_beginning=from_beginning,
            timeout_s=timeout_s,
        )
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        for change in stream:
            click.echo(change.model_dump_json() if as_json else format_change(change))
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()


# --------------------------------------------------------------------------- snapshot


@click.command("snapshot", epilog=_KAFKA_ENV + "\n  APP_ID (default \"tierstream\"), RULES")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="write one JSON line per entity (- for stdout), as `tierstream score --out`",
)
@click.option(
    "--as-of",
    "as_of",
    metavar="RFC3339",
    help="grade as of this instant (default: the latest event time the worker applied)",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="rules YAML (default: TIERSTREAM_RULES, else the packaged rules): use the worker's",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="give up if the table changelog cannot be read to its end in time",
)
@_bootstrap_option
def snapshot_cmd(
    out: Path,
    as_of: str | None,
    rules_path: Path | None,
    timeout_s: float,
    bootstrap: str | None,
) -> None:
    """Every entity's tier from the worker's state, written like `tierstream score --out`.

    Reads the compacted changelog of the worker's "entities" table
    (TIERSTREAM_APP_ID + "-entities-changelog") up to its current end and
    grades each entity with the same scorers, so the result can be diffed
    against an offline `tierstream score` of the same events.
    """
    from tierstream.scorers.engine import Grader
    from tierstream.streams.client import ClientError, snapshot
    from tierstream.streams.offline.score import write_snapshots

    settings = client_settings(bootstrap)
    instant = parse_instant(as_of)
    rules = cli_rules(rules_path or settings.rules)
    try:
        snaps = snapshot(settings, Grader(rules), instant, timeout_s=timeout_s)
    except (ClientError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    if str(out) == "-":
        write_snapshots(snaps, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with out.open("wb") as fh:
            write_snapshots(snaps, fh)
    if snaps:
        used = (
            max(s.as_of for s in snaps) if instant is None else datetime.fromtimestamp(instant, UTC)
        )
        when = used.astimezone(UTC).isoformat().replace("+00:00", "Z")
        click.echo(f"as of {when}: {len(snaps):,} entities (rules {rules.version})", err=True)
    else:
        click.echo("the table is empty: no entities yet", err=True)
    dist = Counter((s.entity_type, s.tier) for s in snaps)
    for (kind, tier), n in sorted(dist.items()):
        click.echo(f"  {kind:9} {tier:12} {n:8,}", err=True)

