"""``tierstream sample``: a realistic, reproducible event file to try everything on."""

from __future__ import annotations

from pathlib import Path

import click

from tierstream.streams.cli.main import parse_instant, progress_bar

__all__ = ["sample"]


@click.command()
@click.option("--customers", default=2000, show_default=True)
@click.option("--suppliers", default=200, show_default=True)
@click.option("--days", default=365, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--end", metavar="RFC3339", default="2026-11-01T00:00:00Z", show_default=True,
              help="the instant the history ends; any age works (e.g. 1998-11-01T00:00:00Z, or before 1970)")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def sample(customers: int, suppliers: int, days: int, seed: int, end: str, out: Path) -> None:
    """Write a realistic, reproducible mixed event file (with late, duplicated and invalid lines)."""
    from datetime import UTC, datetime

    from tierstream.streams.dev.sample import estimate_lines, write_sample

    end_at = datetime.fromtimestamp(parse_instant(end) or 0, UTC)
    with progress_bar(estimate_lines(customers, suppliers, days), "sample", "lines", estimated=True) as advance:
        stats = write_sample(out, customers=customers, suppliers=suppliers, days=days, seed=seed, end=end_at,
                             on_progress=advance)
    click.echo(f"{out}: {stats}", err=True)
