"""The ``--format table|csv|json`` of the commands that print tables: the same rows in each format.

``table`` is the aligned text the command prints for people, with its summary;
``csv`` (with a header) and ``json`` (a list of objects, one per row, numbers as
numbers) are the rows alone on stdout, to be piped or redirected.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar

import click

__all__ = ["FORMATS", "Format", "format_option", "rows_text"]

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")

F = TypeVar("F", bound=Callable[..., Any])


def format_option(what: str) -> Callable[[F], F]:
    """The ``--format`` option of a command whose ``what`` is a table."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
        help=f"{what}: an aligned table with the summary, or only the rows on stdout, as CSV (with a header) or "
             "JSON (a list of objects)",
    )


def rows_text(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: Literal["csv", "json"]) -> str:
    """``rows`` (one value per column) as CSV with a header, or as a JSON list of objects keyed by column."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], ensure_ascii=False, indent=2) + "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()
