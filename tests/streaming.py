"""Helpers for the integration tests: real worker processes on the embedded broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.engine import Grader
from tierstream.streams.cli.run import stop_process, wait_ready
from tierstream.streams.client.api import snapshot
from tierstream.streams.kafka.admin import ensure_topics
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(fn: Callable[[], T | None], deadline_s: float, what: str, interval: float = 0.25) -> T:
    """Call ``fn`` until it returns something truthy or the deadline passes (then fail)."""
    end = time.monotonic() + deadline_s
    last: T | None = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)  # polling interval between checks, not synchronization
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what} (last: {last!r})")


@dataclass
class Stream:
    """One isolated tierstream deployment on the shared broker: its own app id, topics, Redis keys."""

    bootstrap: str
    tmp: Path
    partitions: int = 4
    name: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:8])
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(kafka_bootstrap=self.bootstrap, app_id=self.name, topic_prefix=self.name + ".",
                        redis_key_prefix=self.name, partitions=self.partitions, review_interval_s=1.0)

    def env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "TIERSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "TIERSTREAM_BROKER_PROFILE": "embedded",
            "TIERSTREAM_APP_ID": self.name,
            "TIERSTREAM_TOPIC_PREFIX": self.name + ".",
            "TIERSTREAM_REDIS_KEY_PREFIX": self.name,
            "TIERSTREAM_PARTITIONS": str(self.partitions),
            "TIERSTREAM_WEB_PORT": str(port),
            "TIERSTREAM_REVIEW_INTERVAL_S": "1",
            "TIERSTREAM_DATA_DIR": str(self.tmp / f"data-{port}"),
        }

    def create_topics(self) -> None:
        ensure_topics(self.settings)

    def start_worker(
        self, batch: bool = True, extra_env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        args = [sys.executable, "-m", "tierstream", "worker"] + ([] if batch else ["--per-event"])
        log = open(self.tmp / f"worker-{port}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(args, env={**self.env(port), **(extra_env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        wait_ready(port, 60, proc)
        return proc, port

    def stop(self) -> None:
        for p in self.workers:
            stop_process(p)
        self.workers.clear()

    def snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
        snaps = snapshot(self.settings, Grader(load_rules()), None)
        return {(s.entity_type, s.entity_id): s.model_dump(mode="json") for s in snaps}

    def wait_for_snapshot(self, expected: dict[Any, Any], deadline_s: float, what: str) -> dict[Any, Any]:
        """Poll the snapshot until it equals ``expected``; at the deadline fail with the diff and the logs."""
        last: dict[Any, Any] = {}

        def equal() -> bool:
            nonlocal last
            last = self.snapshot()
            return last == expected

        try:
            poll(equal, deadline_s, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{diff(expected, last)}\n{self.log_tails()}") from None
        return last

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of every worker log of this deployment (for failure messages)."""
        out = []
        for log in sorted(self.tmp.glob("worker-*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(out)


def offline_snapshot(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    scorer = OfflineScorer(load_rules())
    as_of = run(scorer, read_lines(path))
    return {(s.entity_type, s.entity_id): s.model_dump(mode="json") for s in scorer.snapshots(as_of)}


def diff(expected: dict[Any, Any], got: dict[Any, Any], limit: int = 3) -> str:
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    changed = [k for k in expected if k in got and expected[k] != got[k]]
    lines = [f"{len(missing)} missing, {len(extra)} extra, {len(changed)} different"]
    for k in changed[:limit]:
        e, g = expected[k], got[k]
        lines.append(f"  {k}: " + ", ".join(f"{f}: {e[f]!r} != {g[f]!r}" for f in e if e[f] != g.get(f)))
    return "\n".join(lines)
