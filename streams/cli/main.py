"""The ``tierstream`` command: the group, and the helpers its commands share.

Each command group lives in its own module (score, rules, sample, schema,
worker, client, bench), imported only when it is run or listed by ``--help``
(click's lazy-loading group). No command module imports Faust or a Kafka
client at module level: ``tierstream --help`` and the offline commands start
fast, and each command imports what it needs when it runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import TypeAdapter, ValidationError

from tierstream.schemas.errors import RulesError
from tierstream.schemas.rules import Rules, load_rules

if TYPE_CHECKING:
    from tierstream.schemas.settings import Settings
    from tierstream.schemas.sources import SourcesFile

__all__ = ["LazyGroup", "cli_language", "cli_rules", "cli_settings", "cli_sources", "main", "parse_instant",
           "progress_bar"]

_DT: TypeAdapter[datetime] = TypeAdapter(datetime)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported by dotted path when first needed."""

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: command name -> "package.module.command_object"
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, attr = self.lazy_subcommands[cmd_name].rsplit(".", 1)
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
        return command


def parse_instant(value: str | None) -> int | None:
    """Read an ``--as-of`` RFC 3339 timestamp (with an offset) as epoch seconds."""
    if value is None:
        return None
    try:
        dt = _DT.validate_python(value)
    except ValidationError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 timestamp (e.g. 2026-11-01T00:00:00Z)") from None
    if dt.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no timezone offset (add Z or +08:00)")
    from tierstream.scorers.outcome import ts  # event time's rounding (down, also before 1970)

    return ts(dt)


def cli_rules(path: Path | None) -> Rules:
    """Load a rules file (``None``: the packaged rules); a bad one ends the command with its message."""
    try:
        return load_rules(path)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None


def cli_sources(path: Path) -> SourcesFile:
    """Load a sources file; a bad one ends the command with its message."""
    from tierstream.schemas.errors import SourcesError
    from tierstream.schemas.sources import load_sources

    try:
        return load_sources(path)
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from None


def cli_settings(bootstrap: str | None = None) -> Settings:
    """Return the settings from the environment, or exit with one line naming the variable at fault."""
    from tierstream.schemas.settings import Settings, kafka_config_error

    try:
        settings = Settings() if bootstrap is None else Settings(kafka_bootstrap=bootstrap)
    except ValidationError as exc:
        contradiction = kafka_config_error(exc)
        if contradiction is not None:
            raise click.ClickException(str(contradiction)) from None
        problems = "; ".join(
            f"TIERSTREAM_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise click.ClickException(f"invalid settings: {problems}") from None
    from tierstream.streams.kafka.config import KafkaConfigError, bootstrap_servers, kafka_python_config

    try:
        bootstrap_servers(settings)
        kafka_python_config(settings)
    except KafkaConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


@contextmanager
def progress_bar(
    total: int | None, desc: str, unit: str = "it", *, unit_scale: bool = False, estimated: bool = False
) -> Iterator[Callable[[int], None]]:
    """Draw a progress bar on stderr while the block runs; yield the callback that advances it.

    The bar (tqdm) is drawn only when stderr is a terminal: pipes, logs and
    tests stay clean. The callback is what library functions take as
    ``on_progress``. An ``estimated`` total becomes the final count when the
    block completes, so the bar ends at 100%.
    """
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr, disable=None) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        yield advance
        if estimated:
            bar.total = bar.n
            bar.refresh()


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "bench": "tierstream.streams.cli.bench.bench",
        "dev": "tierstream.streams.cli.worker.dev",
        "engine": "tierstream.streams.cli.engine.engine",
        "publish": "tierstream.streams.cli.client.publish_cmd",
        "review": "tierstream.streams.cli.review.review",
        "rules": "tierstream.streams.cli.rules.rules",
        "sample": "tierstream.streams.cli.sample.sample",
        "schema": "tierstream.streams.cli.schema.schema",
        "score": "tierstream.streams.cli.score.score",
        "snapshot": "tierstream.streams.cli.client.snapshot_cmd",
        "sources": "tierstream.streams.cli.sources.sources",
        "watch": "tierstream.streams.cli.client.watch_cmd",
        "worker": "tierstream.streams.cli.worker.worker",
    },
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="tierstream")
def main() -> None:
    """tierstream: real-time tiers for customers and suppliers.

    \b
    Offline (no broker needed):
      tierstream sample --customers 2000 --suppliers 200 --days 365 --out events.jsonl
      tierstream score events.jsonl --out state.jsonl --changes changes.jsonl
      tierstream rules check my_rules.yaml
      tierstream rules diff old.yaml new.yaml events.jsonl
      tierstream sources check sources.yaml captured.jsonl   what upstream messages map to
      tierstream review events.jsonl --within-days 14   what is due for a person to review
      tierstream engine build                  compile the scorers (mypyc): the same outputs, faster
    Streaming:
      tierstream dev --replay events.jsonl     embedded broker, Redis, worker, web; prints changes
      tierstream worker                        against TIERSTREAM_KAFKA_BOOTSTRAP / _REDIS_URL
      tierstream publish | watch | snapshot    the client side
      tierstream review                        the same review over the service's state
    """


def cli_language() -> str:
    """The service's language setting (``TIERSTREAM_LANGUAGE``), read alone: the other settings may be unset."""
    import os

    from tierstream.schemas.settings import ENV_PREFIX

    value = os.environ.get(f"{ENV_PREFIX}LANGUAGE", "en").strip().lower()
    if value not in ("en", "zh", "es"):
        raise click.BadParameter(f"{ENV_PREFIX}LANGUAGE={value!r}: expected en, zh or es")
    return value


if __name__ == "__main__":
    main()
