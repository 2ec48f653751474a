"""``tierstream worker`` and ``tierstream dev``: running the service."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import click
from pydantic import SecretStr

from tierstream.schemas.settings import Settings
from tierstream.streams.cli.main import cli_settings, progress_bar
from tierstream.streams.cli.run import run_worker, spawn_worker, stop_process, wait_ready

__all__ = ["dev", "worker"]

ENV_HELP = (
    "Settings come from TIERSTREAM_* environment variables: KAFKA_BOOTSTRAP, REDIS_URL, "
    "WEB_PORT, TOPIC_PREFIX, RULES, PARTITIONS, KAFKA_SECURITY_PROTOCOL/SASL_*/SSL_*, ..."
)


#: Where ``tierstream dev`` puts its broker when the port is free: the Kafka convention.
KAFKA_PORT = 9092
WEB_PORT = 6066


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


@click.command(epilog="Redis: TIERSTREAM_REDIS_URL when set, else an embedded Valkey (memory only). "
               "TIERSTREAM_DEV_FILE: where the endpoints are written "
               "(default ${XDG_STATE_HOME:-~/.local/state}/tierstream/dev.json).")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="publish this JSONL event file once the worker is ready")
@click.option("--rate", type=float, default=None, help="replay pace in events/s (default: as fast as possible)")
@click.option("--web-port", type=int, default=WEB_PORT, show_default=True,
              help="the worker's web server and dashboard (a free port when this one is taken)")
@click.option("--partitions", type=int, default=4, show_default=True)
@click.option("--quiet", is_flag=True, help="don't print tier changes")
def dev(replay: Path | None, rate: float | None, web_port: int, partitions: int, quiet: bool) -> None:
    """Everything on this machine: embedded broker and Redis, a worker, the web server.

    Starts the Kafka-compatible broker Tansu (memory storage) on 127.0.0.1:9092,
    or on a free port when 9092 is taken, an embedded Valkey as the tier store
    unless TIERSTREAM_REDIS_URL is set, and a worker; optionally replays a file,
    and prints tier changes as they happen. Ctrl-C stops everything.

    Where everything listens is written to an endpoints file, so that
    `tierstream publish | watch | snapshot` in another terminal find the broker
    with no setting; the file is removed on exit. The dashboard is at
    http://127.0.0.1:<web-port>/.
    """
    from tierstream.schemas.settings import DevEndpoints
    from tierstream.streams.dev.broker import EmbeddedBroker
    from tierstream.streams.dev.endpoints import endpoints_path, remove_endpoints, write_endpoints
    from tierstream.streams.dev.valkey import EmbeddedRedis

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` (or a supervisor) stops it like Ctrl-C
    from tierstream.streams.dev.ports import free_port

    base = cli_settings()
    web_port = free_port(web_port)
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(preferred_port=KAFKA_PORT))
        if "redis_url" in base.model_fields_set:
            redis_url, redis_shown = base.redis_url.get_secret_value(), "at TIERSTREAM_REDIS_URL"
        else:
            redis_url = stack.enter_context(EmbeddedRedis()).url
            redis_shown = f"{redis_url} (embedded Valkey)"
        settings = base.model_copy(update={"kafka_bootstrap": broker.bootstrap, "redis_url": SecretStr(redis_url),
                                           "web_port": web_port, "partitions": partitions})
        env = {**os.environ, "TIERSTREAM_KAFKA_BOOTSTRAP": broker.bootstrap, "TIERSTREAM_BROKER_PROFILE": "embedded",
               "TIERSTREAM_REDIS_URL": redis_url, "TIERSTREAM_WEB_PORT": str(web_port),
               "TIERSTREAM_PARTITIONS": str(partitions)}
        log = Path(os.environ.get("TIERSTREAM_DEV_LOG", ".tierstream-dev.log"))
        started = time.monotonic()
        proc = spawn_worker(env, log=log)
        stack.callback(stop_process, proc)
        try:
            wait_ready(web_port, 60, proc)
            web_url = f"http://127.0.0.1:{web_port}"
            where = endpoints_path(settings)
            write_endpoints(where, DevEndpoints(kafka_bootstrap=broker.bootstrap, redis_url=redis_url,
                                               web_url=web_url, pid=os.getpid()))
            stack.callback(remove_endpoints, where, os.getpid())
            click.echo(f"broker {broker.bootstrap}; redis {redis_shown}; worker ready in "
                       f"{time.monotonic() - started:.1f}s; {web_url}/health, /metrics, /tiers/<type>/<id>; "
                       f"log {log}", err=True)
            click.echo(f"endpoints written to {where}: tierstream publish | watch | snapshot in another "
                       "terminal use them", err=True)
            click.echo(f"dashboard {web_url}/", err=True)
            _replay_and_follow(settings, replay, rate, quiet)
        except KeyboardInterrupt:
            click.echo("stopping", err=True)


def _replay_and_follow(settings: Settings, replay: Path | None, rate: float | None, quiet: bool) -> None:
    """Publish ``replay`` (if any), then print every tier change until interrupted."""
    from tierstream.streams.client import publish, watch

    if replay:
        from tierstream.streams.offline.score import read_lines

        with progress_bar(None, "publishing", "lines") as advance:
            rep = publish(settings, read_lines(replay), rate=rate, on_progress=advance)
        click.echo(f"replayed {replay}: {rep}", err=True)
    stream = watch(settings, from_beginning=True)
    try:
        for change in stream:
            if not quiet:
                click.echo(f"{change.occurred_at:%Y-%m-%d %H:%M} {change.entity_type} {change.entity_id} "
                           f"{change.previous_tier or '-'} -> {change.tier} ({change.direction}) "
                           f"score {change.score:.1f}: {change.reasons[0]}")
    finally:
        stream.close()  # before the broker stops: an open connection holds Tansu's exit for its 5 s grace
