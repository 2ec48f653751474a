"""``tierstream engine``: build, inspect and remove the compiled grading engine."""

from __future__ import annotations

import click

__all__ = ["engine"]


@click.group()
def engine() -> None:
    """The grading engine: the scorers as written, or compiled by mypyc (same code, same outputs, faster).

    \b
    pip install -e '.[compiled]'     mypy (with mypyc); a C compiler (gcc) must be on PATH
    tierstream engine build          compile the scorers (a few minutes), kept under their sources' hash
    tierstream engine status         which engine this process runs, and why
    TIERSTREAM_ENGINE=interpreted    run the scorers as written even when a build exists
    TIERSTREAM_ENGINE=compiled       refuse to start without a build of these sources

    Every command (score, worker, dev, bench) picks the build up by itself
    (TIERSTREAM_ENGINE=auto, the default). Editing a scorer changes its sources'
    hash: the interpreted code runs again until the next build, never a stale one.
    """


@engine.command()
@click.option("--force", is_flag=True, help="build again even when a build of these sources exists")
def build(force: bool) -> None:
    """Compile the scorers with mypyc into the engine directory (TIERSTREAM_ENGINE_DIR)."""
    from tierstream.streams.engine.build import BuildError, build_engine

    try:
        build_engine(force=force, say=lambda line: click.echo(line, err=True))
    except BuildError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("the next tierstream command runs the compiled engine (TIERSTREAM_ENGINE=auto)", err=True)


@engine.command()
def status() -> None:
    """Print the engine this process runs: compiled (and its build) or interpreted."""
    from tierstream.streams.engine import ENGINE_ENV, active_engine, build_root

    info = active_engine()
    click.echo(info.describe())
    if info.kind == "interpreted":
        click.echo(f"builds under {build_root()}; `tierstream engine build` makes one "
                   f"({ENGINE_ENV}=interpreted keeps this engine)", err=True)


@engine.command()
def clean() -> None:
    """Remove every build; the interpreted engine runs until the next build."""
    from tierstream.streams.engine.build import remove_builds

    click.echo(f"removed {remove_builds()} build(s)", err=True)
