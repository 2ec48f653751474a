"""``tierstream worker`` and ``tierstream dev``: running the service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click
import orjson

from tierstream.schemas.settings import Settings

ENV_HELP = (
    "Settings come from TIERSTREAM_* environment variables: KAFKA_BOOTSTRAP, REDIS_URL, "
    "WEB_PORT, TOPIC_PREFIX, RULES, PARTITIONS, KAFKA_SECURITY_PROTOCOL/SASL_*/SSL_*, ..."
)


def run_worker(settings: Settings, batch: bool, loglevel: str) -> None:
    """Run one worker in this process until SIGINT/SIGTERM (blocking)."""
    from tierstream.streams.gc_tuning import fewer_collections
    from tierstream.streams.kafka.admin import ensure_topics
    from tierstream.streams.worker.app import create_app
    from tierstream.streams.worker.service import Worker

    ensure_topics(settings)
    pipeline = create_app(settings, batch=batch)
    worker = Worker(pipeline.app, loglevel=loglevel, quiet=True)
    with fewer_collections():
        worker.execute_from_commandline()


def wait_ready(port: int, deadline_s: float, proc: subprocess.Popen[bytes] | None = None) -> dict[str, object]:
    """Poll the worker's /health until it reports ready (raises on timeout or exit)."""
    url = f"http://127.0.0.1:{port}/health"
    end = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise click.ClickException(f"worker exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                doc = orjson.loads(resp.read())
                if doc.get("ready"):
                    return dict(doc)
                last = doc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = exc
        time.sleep(0.05)  # polling interval, not synchronization
    raise click.ClickException(f"worker not ready after {deadline_s:.0f}s (last answer: {last})")


def spawn_worker(env: dict[str, str], batch: bool = True, log: Path | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tierstream", "worker"] + ([] if batch else ["--per-event"])
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def attach_run(group: click.Group) -> None:
    @group.command(epilog=ENV_HELP)
    @click.option("--per-event", is_flag=True, help="Faust's stock per-event path instead of the batch path")
    @click.option("--loglevel", default="warning", show_default=True)
    def worker(per_event: bool, loglevel: str) -> None:
        """Run a worker against an external Kafka and Redis.

        Start several (same TIERSTREAM_APP_ID, different TIERSTREAM_WEB_PORT) to
        share the partitions.
        """
        run_worker(Settings(), batch=not per_event, loglevel=loglevel)

    @group.command(epilog="Redis comes from TIERSTREAM_REDIS_URL (default redis://127.0.0.1:6379/0).")
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
        they happen. Ctrl-C stops everything.
        """
        from tierstream.streams.client.api import publish, watch
        from tierstream.streams.dev.broker import EmbeddedBroker

        signal.signal(signal.SIGTERM, _interrupt)  # `kill` (or a supervisor) stops it like Ctrl-C
        with EmbeddedBroker() as broker:
            env = {**os.environ, "TIERSTREAM_KAFKA_BOOTSTRAP": broker.bootstrap,
                   "TIERSTREAM_BROKER_PROFILE": "embedded",
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
                if replay:
                    from tierstream.streams.offline.score import read_lines

                    rep = publish(settings, read_lines(replay), rate=rate, progress=True)
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
