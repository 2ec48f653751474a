"""Isolated tierstream deployments on one broker, and the worker processes that serve them.

A :class:`Deployment` has its own app id (consumer group, changelog topic), topic
prefix and Redis key prefix, like ``tests/streaming.py`` does for the tests, so
each benchmark phase starts from a fresh state on the shared embedded broker.
Workers are ``python -m streams.cli.main worker`` subprocesses (see
:func:`streams.cli.run.spawn_worker`); :meth:`Deployment.close` stops them and
deletes what the deployment left in Kafka and Redis.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from kafka import KafkaAdminClient

from tierstream.schemas.settings import Settings
from tierstream.streams.cli.run import spawn_worker, stop_process
from tierstream.streams.kafka.admin import ensure_topics
from tierstream.streams.kafka.topics import topic_names

POLL_S = 0.25  # interval between progress checks (polling, not synchronisation)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body: bytes = resp.read()
            return body
    except (urllib.error.URLError, OSError):
        return None


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    spawned_at: float  # time.monotonic()

    def health(self) -> dict[str, Any] | None:
        body = _get(f"http://127.0.0.1:{self.port}/health")
        if body is None:
            return None
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return doc if isinstance(doc, dict) else None

    def metric(self, name: str) -> float:
        """Sum of every series of one metric on /metrics (0 when unreachable)."""
        body = _get(f"http://127.0.0.1:{self.port}/metrics")
        total = 0.0
        for line in (body or b"").decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def log_lines(self, needle: str, limit: int = 1) -> list[str]:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line[line.index(needle):].strip() for line in text.splitlines() if needle in line][:limit]

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with code {self.proc.returncode}; log {self.log}")


def wait_until(check: Callable[[], bool], deadline: float, what: str) -> None:
    """Poll ``check`` until it is true; raise TimeoutError at ``deadline`` (monotonic)."""
    while not check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


@dataclass
class Deployment:
    """One fresh tierstream deployment on the broker at ``bootstrap``."""

    bootstrap: str
    workdir: Path
    partitions: int
    redis_url: str
    name: str = field(default_factory=lambda: "bench" + uuid.uuid4().hex[:8])
    workers: list[Worker] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(kafka_bootstrap=self.bootstrap, app_id=self.name, topic_prefix=self.name + ".",
                        redis_key_prefix=self.name, partitions=self.partitions,
                        redis_url=self.redis_url)

    @property
    def inbound(self) -> list[str]:
        return topic_names(self.settings).all_inbound

    def env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "TIERSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "TIERSTREAM_BROKER_PROFILE": "embedded",
            "TIERSTREAM_APP_ID": self.name,
            "TIERSTREAM_TOPIC_PREFIX": self.name + ".",
            "TIERSTREAM_REDIS_KEY_PREFIX": self.name,
            "TIERSTREAM_REDIS_URL": self.redis_url,
            "TIERSTREAM_PARTITIONS": str(self.partitions),
            "TIERSTREAM_WEB_PORT": str(port),
            "TIERSTREAM_DATA_DIR": str(self.workdir / f"data-{self.name}-{port}"),
        }

    def create_topics(self) -> None:
        ensure_topics(self.settings)

    def spawn(self, batch: bool = True) -> Worker:
        port = free_port()
        log = self.workdir / f"worker-{self.name}-{port}.log"
        started = time.monotonic()
        proc = spawn_worker(self.env(port), batch=batch, log=log)
        worker = Worker(proc, port, log, started)
        self.workers.append(worker)
        return worker

    def wait_ready(self, worker: Worker, deadline: float) -> float:
        """Seconds from spawn to /health ``ready``."""

        def ready() -> bool:
            worker.check_alive()
            doc = worker.health()
            return bool(doc and doc.get("ready"))

        wait_until(ready, deadline, f"worker on port {worker.port} to be ready")
        return time.monotonic() - worker.spawned_at

    # --- progress: the group's committed offsets --------------------------------------

    def committed(self, admin: KafkaAdminClient) -> dict[str, int]:
        """Committed offsets of the worker group, summed per inbound topic.

        Offsets on a fresh topic start at 0 and are contiguous, so the sum is the
        number of messages of that topic the group has processed and committed.
        """
        offsets = admin.list_group_offsets(self.name).get(self.name, {})
        per_topic = dict.fromkeys(self.inbound, 0)
        for tp, meta in offsets.items():
            if tp.topic in per_topic and meta.offset > 0:
                per_topic[tp.topic] += meta.offset
        return per_topic

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.name}-bench")

    # --- cleanup ------------------------------------------------------------------------

    def stop_workers(self) -> None:
        for w in self.workers:
            stop_process(w.proc)
        self.workers.clear()

    def close(self) -> None:
        """Stop the workers; delete the deployment's topics and Redis keys (best effort)."""
        self.stop_workers()
        with contextlib.suppress(Exception):
            admin = self.admin()
            try:  # its topics, the changelog and Faust's internal ones all start with the name
                doomed = [t for t in admin.list_topics() if t.startswith(self.name)]
                if doomed:
                    admin.delete_topics(doomed)
            finally:
                admin.close()
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            keys = list(client.scan_iter(match=f"{self.name}:*", count=1000))
            for i in range(0, len(keys), 1000):
                client.unlink(*keys[i : i + 1000])
            client.close()
