"""Running a worker: in this process, or as a child process to wait for and stop.

Used by ``tierstream worker`` and ``tierstream dev`` (:mod:`streams.cli.worker`),
and by the tests, the benchmarks and the fault scripts.
"""

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

__all__ = ["run_worker", "spawn_worker", "stop_process", "wait_ready"]


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
    """Start ``python -m tierstream worker`` in its own session, its output appended to ``log``."""
    args = [sys.executable, "-m", "tierstream", "worker"] + ([] if batch else ["--per-event"])
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """Stop a child's whole process group: SIGTERM, then SIGKILL after ``timeout_s``."""
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
