"""``tierstream bench``: throughput, latency, state size, start-up and recovery figures.

The logic lives in :mod:`benchmarks` (see ``benchmarks/README.md``); this only
maps options to :class:`benchmarks.run.BenchConfig`. Nothing heavy is imported
until the command runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

__all__ = ["bench"]

_PHASES = ("offline", "pipeline", "raw", "quix", "latency", "recovery", "two-workers")
_MODES = ("batch", "per-event")


def _csv(allowed: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def convert(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
        items = tuple(v.strip() for v in value.split(",") if v.strip())
        bad = [v for v in items if v not in allowed]
        if bad:
            raise click.BadParameter(f"{', '.join(bad)} not in {', '.join(allowed)}")
        return items

    return convert


@click.command()
@click.option("--customers", default=230_000, show_default=True, type=click.IntRange(1))
@click.option("--suppliers", default=1_500, show_default=True, type=click.IntRange(0))
@click.option("--days", default=30, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=7, show_default=True)
@click.option("--sample", "sample_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="use this JSONL event file instead of generating one")
@click.option("--partitions", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--modes", default="batch,per-event", show_default=True, callback=_csv(_MODES),
              help="worker paths; the first is the main pipeline, the others run last if time allows")
@click.option("--latency-rate", default=2000.0, show_default=True, help="input events/s for the latency run")
@click.option("--latency-seconds", default=10.0, show_default=True, help="how long to publish at that rate")
@click.option("--recovery-entities", default=1_000_000, show_default=True, type=click.IntRange(1))
@click.option("--recovery-timeout", "recovery_timeout_s", default=300.0, show_default=True)
@click.option("--two-workers-max-s", default=60.0, show_default=True,
              help="longest two-worker measuring window (a rate, so it need not process everything)")
@click.option("--rekeyed", is_flag=True,
              help="also run one worker over the sample keyed by order id or unkeyed (every event re-keyed)")
@click.option("--budget-s", default=540.0, show_default=True,
              help="time budget for the whole run; phases that run out report partial figures")
@click.option("--skip", default="", callback=_csv(_PHASES),
              help=f"comma-separated: {', '.join(_PHASES)}; skipping pipeline also skips raw and quix "
                   "(only the latency run: --skip offline,pipeline,recovery,two-workers)")
@click.option("--redis-url", default=None,
              help="Redis for the workers' tier store (default TIERSTREAM_REDIS_URL, else an embedded Valkey)")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="keep the sample and the broker/worker logs here (default: a temporary directory)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="write every result to this JSON file")
def bench(customers: int, suppliers: int, days: int, seed: int, sample_path: Path | None, partitions: int,
          modes: tuple[str, ...], latency_rate: float, latency_seconds: float, recovery_entities: int,
          recovery_timeout_s: float, two_workers_max_s: float, rekeyed: bool, budget_s: float,
          skip: tuple[str, ...],
          redis_url: str | None, workdir: Path | None, json_path: Path | None) -> None:
    """Measure the pipeline on the embedded broker (progress on stderr, a table on stdout).

    \b
    Figures: raw aiokafka consume + decode, one worker over a pre-loaded sample
    (events/s, start-to-ready, state per entity), Quix Streams running the same
    Processor over the same topics (quix_eps, vs_quix; needs
    pip install -e '.[bench]', else skipped), offline scorer, latency at a
    fixed input rate, recovery over a pre-filled changelog, two workers;
    with --rekeyed, one worker with every event taking the repartition hop.
    Needs nothing running: the broker (and, without TIERSTREAM_REDIS_URL, an
    embedded Valkey) is started and stopped here, and so are the workers. See benchmarks/README.md.
    """
    from tierstream.streams.bench.run import BenchConfig, render, run_bench, write_json

    if not modes:
        raise click.BadParameter("give at least one mode", param_hint="--modes")
    if redis_url is None:
        redis_url = os.environ.get("TIERSTREAM_REDIS_URL")
    cfg = BenchConfig(
        customers=customers, suppliers=suppliers, days=days, seed=seed, sample=sample_path,
        partitions=partitions, modes=modes, latency_rate=latency_rate, latency_seconds=latency_seconds,
        recovery_entities=recovery_entities, recovery_timeout_s=recovery_timeout_s,
        two_workers_max_s=two_workers_max_s, rekeyed=rekeyed, budget_s=budget_s, redis_url=redis_url,
        workdir=workdir, skip=frozenset(skip),
    )
    try:
        doc = run_bench(cfg)
    except KeyboardInterrupt:
        click.echo("interrupted: every broker and worker started by the bench was stopped", err=True)
        sys.exit(130)
    if json_path is not None:
        write_json(doc, json_path)
        click.echo(f"results written to {json_path}", err=True)
    click.echo(render(doc))
