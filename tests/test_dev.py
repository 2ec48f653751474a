"""`tierstream dev`: broker, Redis, worker and web server on this machine, found by the client commands
of another terminal through its endpoints file, and stopped with nothing left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.streaming import free_port, poll
from tierstream.schemas.settings import DevEndpoints
from tierstream.streams.cli.run import wait_ready
from tierstream.streams.dev.sample import write_sample

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def _port_held(port: int) -> Iterator[None]:
    """Hold 127.0.0.1:``port`` (bound, not listening: connections are refused) if nobody else does.

    Then `tierstream dev` must fall back to a free port, and a client that found it did so
    through the endpoints file, not by the default address.
    """
    with socket.socket() as sock:
        with contextlib.suppress(OSError):  # already taken: dev falls back all the same
            sock.bind(("127.0.0.1", port))
        yield


def _endpoints(dev_file: Path) -> DevEndpoints | None:
    return DevEndpoints.model_validate_json(dev_file.read_text()) if dev_file.is_file() else None


def _terminal(dev_file: Path) -> dict[str, str]:
    """Return the environment of another terminal: no Kafka or Redis setting, the dev's app id, its endpoints file."""
    env = {k: v for k, v in os.environ.items() if k not in ("TIERSTREAM_KAFKA_BOOTSTRAP", "TIERSTREAM_REDIS_URL")}
    env.update(TIERSTREAM_APP_ID="devtest", TIERSTREAM_DEV_FILE=str(dev_file))
    return env


def _client(args: list[str], dev_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tierstream", *args], env=_terminal(dev_file), capture_output=True,
                          text=True, timeout=120)


def _first_watched_change(dev_file: Path) -> str:
    """Return the first line `tierstream watch --from-beginning` prints (its own 60 s idle timeout bounds the wait)."""
    watch = subprocess.Popen([sys.executable, "-m", "tierstream", "watch", "--from-beginning", "--timeout", "60"],
                             env=_terminal(dev_file), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        return watch.stdout.readline()
    finally:
        watch.kill()
        watch.communicate()


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_dev_runs_is_found_by_the_clients_and_stops_with_no_process_left(tmp_path: Path, how: signal.Signals) -> None:
    port = free_port()
    dev_file = tmp_path / "state" / "dev.json"
    env = {**_terminal(dev_file), "TIERSTREAM_DEV_LOG": str(tmp_path / "dev.log")}
    web_taken = how == signal.SIGTERM  # one run with the asked web port taken, one with it free
    with _port_held(9092), _port_held(port) if web_taken else contextlib.nullcontext():
        proc = subprocess.Popen([sys.executable, "-m", "tierstream", "dev", "--web-port", str(port), "--quiet"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            def written() -> DevEndpoints | None:
                assert proc.poll() is None, f"tierstream dev exited with {proc.returncode}"
                return _endpoints(dev_file)

            found = poll(written, 60, "the endpoints file")
            assert found.pid == proc.pid and found.kafka_bootstrap != "127.0.0.1:9092"
            assert (found.web_url == f"http://127.0.0.1:{port}") is not web_taken, (found.web_url, port)
            wait_ready(int(found.web_url.rsplit(":", 1)[1]), 60, proc)
            assert found.redis_url.startswith("redis://127.0.0.1:")
            family = psutil.Process(proc.pid).children(recursive=True)
            names = " ".join(" ".join(p.cmdline()) for p in family)
            assert "tansu" in names and "valkey-server" in names and "-m tierstream worker" in names, names
            if how == signal.SIGINT:
                _clients_find_the_broker(tmp_path, dev_file)
            proc.send_signal(how)
            out, _ = proc.communicate(timeout=60)
            assert b"stopping" in out, out[-2000:]
            assert f"endpoints written to {dev_file}".encode() in out, out[-2000:]
            assert not dev_file.exists()
            poll(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family), 30,
                 "the broker, the Redis and the worker to exit")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _clients_find_the_broker(tmp_path: Path, dev_file: Path) -> None:
    """publish, watch and snapshot with no Kafka setting reach the dev's broker through its endpoints file."""
    events = tmp_path / "events.jsonl"
    write_sample(events, customers=5, suppliers=2, days=30, seed=3)
    published = _client(["publish", str(events)], dev_file)
    assert published.returncode == 0, published.stderr
    line = _first_watched_change(dev_file)
    assert " -> " in line, line  # "<when> <type> <id> <before> -> <tier> (<direction>) score ..."
    snap = _client(["snapshot", "--out", "-"], dev_file)
    assert snap.returncode == 0, snap.stderr
