"""``tierstream worker`` and ``tierstream dev``: running the service."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click

from tierstream.schemas.settings import Settings
from tierstream.streams.cli.main import cli_settings, progress_bar
from tierstream.streams.cli.run import run_worker, spawn_worker, stop_process, wait_ready

__all__ = ["dev", "worker"]

ENV_HELP = (
    "Settings come from TIERSTREAM_* environment variables: KAFKA_BOOTSTRAP, REDIS_URL, "
    "WEB_PORT, TOPIC_PREFIX, RULES, PARTITIONS, KAFKA_SECURITY_PROTOCOL/SASL_*/SSL_*, ..."
)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.command(epilog=ENV_HELP)
@click.option("--per-event", is_flag=True, help="Faust's stock per-event path instead of the batch path")
@click.option("--loglevel", default="warning", show_default=True)
def worker(per_event: bool, loglevel: str) -> None:
    """Run a worker against an external Kafka and Redis.

    Start several (same TIERSTREAM_APP_ID, different TIERSTREAM_WEB_PORT) to
    share the partitions.
    """
    run_worker(cli_settings(), batch=not per_event, loglevel=loglevel)


@click.command(epilog="Redis comes from TIERSTREAM_REDIS_URL (default redis://127.0.0.1:6379/0).")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="publish this JSONL event file once the worker is ready")
@click.option("--rate", type=float, default=None, help="replay pace in events/s (default: as fast as possible)")
@click.option("--web-port", type=int, default=6066, show_default=True)
@click.option("--partitions", type=int, default=4, show_default=True)
@click.option("--quiet", is_flag=True, help="don't print tier changes")
def dev(replay: Path | None, rate: float | None, web_port: int, partitions: int, quiet: bool) -> None:
    """Everything on this machine: embedded broker, a worker, the web server.

    Starts the Kafka-compatible broker Tansu on a free loopback port (memory
    storage), a worker, optionally replays a file, and prints tier changes as
    they happen; the dashboard is at http://127.0.0.1:<web-port>/. Ctrl-C stops
    everything.
    """
    from tierstream.streams.client import publish, watch
    from tierstream.streams.dev.broker import EmbeddedBroker

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` (or a supervisor) stops it like Ctrl-C
    with EmbeddedBroker() as broker:
        env = {**os.environ, "TIERSTREAM_KAFKA_BOOTSTRAP": broker.bootstrap, "TIERSTREAM_BROKER_PROFILE": "embedded",
               "TIERSTREAM_WEB_PORT": str(web_port), "TIERSTREAM_PARTITIONS": str(partitions)}
        settings = Settings(kafka_bootstrap=broker.bootstrap, web_port=web_port, partitions=partitions)
        log = Path(os.environ.get("TIERSTREAM_DEV_LOG", ".tierstream-dev.log"))
        started = time.monotonic()
        proc = spawn_worker(env, log=log)
        try:
            wait_ready(web_port, 60, proc)
            click.echo(f"broker {broker.bootstrap}; worker ready in {time.monotonic() - started:.1f}s; "
                       f"http://127.0.0.1:{web_port}/health, /metrics, /tiers/<type>/<id>; log {log}",
                       err=True)
            click.echo(f"dashboard http://127.0.0.1:{web_port}/", err=True)
            if replay:
                from tierstream.streams.offline.score import read_lines

                with progress_bar(None, "publishing", "lines") as advance:
                    rep = publish(settings, read_lines(replay), rate=rate, on_progress=advance)
                click.echo(f"replayed {replay}: {rep}", err=True)
            for change in watch(settings, from_beginning=True):
                if not quiet:
                    click.echo(f"{change.occurred_at:%Y-%m-%d %H:%M} {change.entity_type} {change.entity_id} "
                               f"{change.previous_tier or '-'} -> {change.tier} ({change.direction}) "
                               f"score {change.score:.1f}: {change.reasons[0]}")
        except KeyboardInterrupt:
            click.echo("stopping", err=True)
        finally:
            stop_process(proc)
