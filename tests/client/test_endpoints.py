"""How a client command finds the broker: --bootstrap, TIERSTREAM_KAFKA_BOOTSTRAP, a running dev's endpoints file,
the default; and the one line it ends with when nothing listens there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.streaming import free_port
from tierstream.schemas.settings import DevEndpoints
from tierstream.streams.cli.client import client_settings
from tierstream.streams.cli.main import main
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.dev.endpoints import read_endpoints, write_endpoints

_HOW = "start `tierstream dev` or set TIERSTREAM_KAFKA_BOOTSTRAP"


def _dead_pid() -> int:
    """Return the pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _endpoints(path: Path, bootstrap: str, pid: int) -> Path:
    write_endpoints(path, DevEndpoints(kafka_bootstrap=bootstrap, redis_url="redis://127.0.0.1:7/0",
                                       web_url="http://127.0.0.1:6066", pid=pid))
    return path


def _run(args: list[str], dev_file: Path, bootstrap: str | None = None) -> tuple[Result, float]:
    """Run a client command with its own endpoints file (and broker variable, if given); time it."""
    env = {"TIERSTREAM_DEV_FILE": str(dev_file), "TIERSTREAM_KAFKA_BOOTSTRAP": bootstrap}
    started = time.monotonic()
    done = CliRunner().invoke(main, args, env=env)
    return done, time.monotonic() - started


@pytest.mark.parametrize("command", [["publish", "EVENTS"], ["watch"], ["snapshot", "--out", "-"]],
                         ids=["publish", "watch", "snapshot"])
def test_an_unreachable_broker_ends_the_command_with_one_line(tmp_path: Path, command: list[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    address = f"127.0.0.1:{free_port()}"
    done, took = _run([str(events) if a == "EVENTS" else a for a in command], tmp_path / "none.json", address)
    print(f"{command[0]}: unreachable broker reported in {took:.2f}s")
    assert done.exit_code == 1
    assert done.stderr.splitlines() == [f"Error: cannot reach Kafka at {address} (from TIERSTREAM_KAFKA_BOOTSTRAP); "
                                        + _HOW], done.stderr


def test_an_unreachable_broker_ends_the_process_with_one_line(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "TIERSTREAM_KAFKA_BOOTSTRAP": address, "TIERSTREAM_DEV_FILE": str(tmp_path / "none.json")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tierstream", "watch"], env=env, capture_output=True, text=True,
                          timeout=60)
    print(f"tierstream watch: unreachable broker reported in {time.monotonic() - started:.2f}s (with process start)")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [f"Error: cannot reach Kafka at {address} (from TIERSTREAM_KAFKA_BOOTSTRAP); "
                                        + _HOW], done.stderr


def test_a_running_devs_endpoints_are_used_and_named_and_the_variable_wins(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    dev_file = _endpoints(tmp_path / "dev.json", address, os.getpid())  # this process: alive
    done, _ = _run(["watch"], dev_file)
    assert done.stderr.splitlines() == [f"Error: cannot reach Kafka at {address} (from the tierstream dev endpoints "
                                        f"in {dev_file}); " + _HOW], done.stderr
    other = f"127.0.0.1:{free_port()}"
    done, _ = _run(["watch"], dev_file, other)
    assert f"cannot reach Kafka at {other} (from TIERSTREAM_KAFKA_BOOTSTRAP)" in done.stderr, done.stderr


def test_the_endpoints_of_a_dev_that_is_gone_are_ignored_with_a_note(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    pid = _dead_pid()
    dev_file = _endpoints(tmp_path / "dev.json", address, pid)
    assert read_endpoints(dev_file) == (None, f"note: ignoring {dev_file}: the tierstream dev that wrote it "
                                              f"(pid {pid}) is not running")
    done, _ = _run(["snapshot", "--out", "-"], dev_file)
    assert done.stderr.splitlines()[0] == f"note: ignoring {dev_file}: the tierstream dev that wrote it (pid {pid}) " \
                                          "is not running", done.stderr
    assert address not in done.stderr  # whatever answers at the default, the dead dev's broker was not tried


def test_a_file_that_is_not_an_endpoints_file_is_ignored_with_a_note(tmp_path: Path) -> None:
    dev_file = tmp_path / "dev.json"
    dev_file.write_text('{"kafka_bootstrap": 1}')
    assert read_endpoints(dev_file) == (None, f"note: ignoring {dev_file}: not a tierstream dev endpoints file")
    assert read_endpoints(tmp_path / "missing.json") == (None, None)


@pytest.mark.integration
def test_the_endpoints_give_the_redis_url_unless_the_variable_is_set(
    broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev_file = _endpoints(tmp_path / "dev.json", broker.bootstrap, os.getpid())
    monkeypatch.setenv("TIERSTREAM_DEV_FILE", str(dev_file))
    monkeypatch.delenv("TIERSTREAM_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("TIERSTREAM_REDIS_URL", "redis://127.0.0.1:8/0")
    found = client_settings(None)
    assert (found.kafka_bootstrap, found.redis_url.get_secret_value()) == (broker.bootstrap, "redis://127.0.0.1:8/0")
    monkeypatch.delenv("TIERSTREAM_REDIS_URL")
    found = client_settings(None)
    assert (found.kafka_bootstrap, found.redis_url.get_secret_value()) == (broker.bootstrap, "redis://127.0.0.1:7/0")
