"""What a test deployment runs with: polling with a deadline, free ports, a private Redis, a paced publisher.

Part of the harness (:mod:`tierstream.streams.dev.harness` re-exports every name).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import redis

from tierstream.schemas.settings import Settings
from tierstream.streams.client import publish

__all__ = ["PollTimeout", "Publisher", "RedisServer", "free_port", "poll"]

T = TypeVar("T")


class PollTimeout(AssertionError, TimeoutError):
    """A :func:`poll` ran out of time: an assertion failure in a test, a timeout anywhere else."""


def poll(fn: Callable[[], T | None], deadline_s: float, what: str, interval: float = 0.25) -> T:
    """Call ``fn`` until it returns something truthy, and return that; raise :class:`PollTimeout` after ``deadline_s``.

    ``fn`` is called at least once, and once more at the deadline.
    """
    end = time.monotonic() + deadline_s
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= end:
            raise PollTimeout(f"timed out after {deadline_s:g}s waiting for {what} (last: {last!r})")
        time.sleep(interval)  # polling interval between checks, not synchronization


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private, memory-only ``redis-server`` on a free loopback port (never the shared 6379)."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server (again, on the same port after :meth:`kill`) and wait until it answers."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            args += ["--requirepass", self.password]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

        def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.log}")
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            poll(answers, 20, f"redis-server on port {self.port}", interval=0.05)
        finally:
            client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: memory-only, so everything it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server must be able to die
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (clients time out); data is kept."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis[str]:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)


class Publisher(threading.Thread):
    """``streams.client.publish`` in a thread, paced, with its progress readable for kill points."""

    def __init__(self, settings: Settings, lines: Sequence[bytes], seconds: float) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.lines = lines
        self.rate = max(1.0, len(lines) / max(seconds, 0.1))
        self.sent = 0
        self.error: BaseException | None = None
        self.failed = 0

    def _progress(self, n: int) -> None:
        self.sent += n

    def run(self) -> None:
        try:
            rep = publish(self.settings, enumerate(self.lines, 1), rate=self.rate, on_progress=self._progress)
            self.failed = rep.failed
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def reached(self, line: int) -> bool:
        """Return whether ``line`` lines are published (or the publisher has ended)."""
        return self.sent >= line or not self.is_alive()

    def finish(self, timeout_s: float = 600) -> None:
        """Wait for the end; raise what went wrong, or if some events were not acknowledged."""
        self.join(timeout_s)
        if self.is_alive():
            raise RuntimeError("publisher did not finish")
        if self.error is not None:
            raise self.error
        if self.failed:
            raise RuntimeError(f"{self.failed} events were not acknowledged by the broker")
