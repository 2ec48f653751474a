"""What a test deployment runs with: polling with a deadline, free ports, a private Redis, a paced publisher.

Part of the harness (:mod:`tierstream.streams.dev.harness` re-exports every name).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import redis

from tierstream.schemas.settings import Settings
from tierstream.streams.client import publish
from tierstream.streams.dev.ports import free_port
from tierstream.streams.dev.valkey import EmbeddedRedis

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


class RedisServer(EmbeddedRedis):
    """A fault scenario's private Redis: the embedded Valkey on a free port, its log in ``workdir``.

    Start it again after :meth:`kill` and it listens on the same port, empty.
    """

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        port = free_port()
        super().__init__(port=port, password=password, log_path=workdir / f"redis-{port}.log")
        self.workdir = workdir

    def client(self) -> redis.Redis[str]:
        """Return a client of database 0 that decodes answers to ``str``."""
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
