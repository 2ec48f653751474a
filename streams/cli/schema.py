"""``tierstream schema export``: the JSON Schemas of every message."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["schema"]


@click.group()
def schema() -> None:
    """JSON Schemas of every message tierstream reads or writes."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write one JSON Schema file per message into DIRECTORY."""
    from tierstream.schemas.export import export_schemas

    for path in export_schemas(directory):
        click.echo(str(path))
