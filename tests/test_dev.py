"""`tierstream dev`: broker, worker and web server on this machine, stopped with nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.streaming import free_port, poll
from tierstream.streams.cli.run import wait_ready

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_dev_runs_and_stops_with_no_process_left(tmp_path: Path, how: signal.Signals) -> None:
    port = free_port()
    env = {**os.environ, "TIERSTREAM_DEV_LOG": str(tmp_path / "dev.log"), "TIERSTREAM_APP_ID": "devtest"}
    proc = subprocess.Popen([sys.executable, "-m", "tierstream", "dev", "--web-port", str(port), "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, 60, proc)
        family = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        assert "tansu" in names and "-m tierstream worker" in names, names
        proc.send_signal(how)
        out, _ = proc.communicate(timeout=60)
        assert b"stopping" in out, out[-2000:]
        poll(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family), 30,
             "the broker and the worker to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
