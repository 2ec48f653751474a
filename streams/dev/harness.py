"""Isolated tierstream deployments on one broker, and the worker processes that serve them.

The one harness of the integration tests, the fault scenarios and ``tierstream bench``.
A :class:`Deployment` has its own app id (consumer group, changelog topic), topic
prefix and Redis key prefix, so every test, scenario or benchmark phase starts from a
fresh state on a shared broker. Workers are ``python -m tierstream worker``
subprocesses, each in its own session and with its own log; they can be stopped
(SIGTERM) or killed (SIGKILL to the whole process group).

Progress is always polled with a deadline (:func:`poll`), never slept on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from kafka import KafkaAdminClient

from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.cli.run import spawn_worker, stop_process
from tierstream.streams.dev.harness_support import PollTimeout, Publisher, RedisServer, free_port, poll
from tierstream.streams.kafka.admin import ensure_topics
from tierstream.streams.kafka.read import read_states
from tierstream.streams.kafka.topics import TopicNames, topic_names
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

__all__ = [
    "RECOVERY_SIGNATURE",
    "Deployment",
    "PollTimeout",
    "Publisher",
    "RedisServer",
    "Snapshots",
    "Worker",
    "diff",
    "free_port",
    "fresh_name",
    "offline_snapshot",
    "poll",
]

Snapshots = dict[tuple[str, str], dict[str, Any]]

#: What faust-streaming logs when a worker cannot recover its table (it then retries forever).
RECOVERY_SIGNATURE = b"Error in recovery"


def _get(url: str, timeout: float = 3.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


def _rss(pid: int) -> int:
    """Return the resident set size of a process in bytes (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(f"no VmRSS for process {pid}")


@dataclass
class Worker:
    """One ``tierstream worker`` process: its web port, its log, when it was spawned."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    spawned_at: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self) -> None:
        """Raise if the process has exited, with the end of its log (the log may not outlive the run)."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with code {self.proc.returncode}; log {self.log}, ending:\n"
                               + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the worker's log ('' if there is none)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def health(self) -> dict[str, Any] | None:
        """Return /health, or None while the worker does not answer."""
        try:
            doc = orjson.loads(_get(f"http://127.0.0.1:{self.port}/health"))
        except (urllib.error.URLError, OSError, orjson.JSONDecodeError):
            return None
        return doc if isinstance(doc, dict) else None

    def metrics(self) -> dict[str, float]:
        """Return /metrics as ``{series: value}`` (series with their labels); raises while unreachable."""
        out: dict[str, float] = {}
        for line in _get(f"http://127.0.0.1:{self.port}/metrics").decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def metric(self, name: str) -> float:
        """Return the sum of every series of one metric (0 while unreachable)."""
        try:
            series = self.metrics()
        except (OSError, ValueError):
            return 0.0
        return sum(v for k, v in series.items() if k == name or k.startswith(name + "{"))

    def rss(self) -> int:
        return _rss(self.proc.pid)

    def log_lines(self, needle: str, limit: int = 1) -> list[str]:
        """Return the first ``limit`` log lines holding ``needle``, from the needle on."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line[line.index(needle):].strip() for line in text.splitlines() if needle in line][:limit]


def fresh_name(prefix: str = "t") -> str:
    """Return a new deployment name: app id, topic prefix and Redis key prefix at once."""
    return prefix + uuid.uuid4().hex[:8]


@dataclass
class Deployment:
    """One fresh tierstream deployment on the broker at ``bootstrap``.

    ``redis_url`` is the workers' tier store (default: the environment's); a
    :class:`RedisServer` given as ``redis`` replaces it and is killed by :meth:`close`.
    ``review_interval_s`` is the workers' re-review period (None: the settings' default).
    """

    bootstrap: str
    workdir: Path
    partitions: int = 4
    redis_url: str | None = None
    review_interval_s: float | None = 1.0
    redis: RedisServer | None = None
    name: str = field(default_factory=fresh_name)
    workers: list[Worker] = field(default_factory=list)
    processed: int = 0  # inbound messages processed, summed over every worker incarnation (see harvest)
    dedup_hits: int = 0  # tierstream_events_duplicate_total, summed likewise

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- configuration ------------------------------------------------------------------

    @property
    def store_url(self) -> str | None:
        return self.redis.url if self.redis is not None else self.redis_url

    @property
    def settings(self) -> Settings:
        extra: dict[str, Any] = {}
        if self.store_url is not None:
            extra["redis_url"] = self.store_url
        if self.review_interval_s is not None:
            extra["review_interval_s"] = self.review_interval_s
        return Settings(kafka_bootstrap=self.bootstrap, app_id=self.name, topic_prefix=self.name + ".",
                        redis_key_prefix=self.name, partitions=self.partitions, **extra)

    @property
    def names(self) -> TopicNames:
        return topic_names(self.settings)

    @property
    def inbound(self) -> list[str]:
        return self.names.all_inbound

    def env(self, port: int) -> dict[str, str]:
        """Return a worker's environment: this deployment's settings, web port ``port``."""
        env = {
            **os.environ,
            "TIERSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "TIERSTREAM_BROKER_PROFILE": "embedded",
            "TIERSTREAM_APP_ID": self.name,
            "TIERSTREAM_TOPIC_PREFIX": self.name + ".",
            "TIERSTREAM_REDIS_KEY_PREFIX": self.name,
            "TIERSTREAM_PARTITIONS": str(self.partitions),
            "TIERSTREAM_WEB_PORT": str(port),
            "TIERSTREAM_DATA_DIR": str(self.workdir / f"data-{self.name}-{port}"),
        }
        if self.store_url is not None:
            env["TIERSTREAM_REDIS_URL"] = self.store_url
        if self.review_interval_s is not None:
            env["TIERSTREAM_REVIEW_INTERVAL_S"] = f"{self.review_interval_s:g}"
        return env

    def create_topics(self) -> None:
        ensure_topics(self.settings)

    # --- workers ------------------------------------------------------------------------

    def spawn(self, batch: bool = True, extra_env: dict[str, str] | None = None) -> Worker:
        """Start a worker (``--per-event`` unless ``batch``); do not wait for it."""
        port = free_port()
        log = self.workdir / f"worker-{self.name}-{port}.log"
        started = time.monotonic()
        proc = spawn_worker({**self.env(port), **(extra_env or {})}, batch=batch, log=log)
        return self.adopt(Worker(proc, port, log, started))

    def adopt(self, worker: Worker) -> Worker:
        """Count a worker started elsewhere (e.g. under a profiler) as one of this deployment's."""
        self.workers.append(worker)
        return worker

    def wait_ready(self, worker: Worker, deadline_s: float = 60.0) -> float:
        """Wait until /health says ready; return the seconds since spawn.

        Fails at once if the worker exits or if a worker of this deployment cannot
        recover its table (:meth:`check_recovery`).
        """

        def ready() -> bool:
            worker.check_alive()
            self.check_recovery()
            return bool((worker.health() or {}).get("ready"))

        poll(ready, deadline_s, f"worker on port {worker.port} to be ready", interval=0.1)
        return time.monotonic() - worker.spawned_at

    def start_worker(self, batch: bool = True, extra_env: dict[str, str] | None = None,
                     deadline_s: float = 60.0) -> Worker:
        """Spawn a worker and wait until it is ready."""
        worker = self.spawn(batch, extra_env)
        self.wait_ready(worker, deadline_s)
        return worker

    def check_recovery(self) -> None:
        """Raise at once (not after a deadline) if a worker logged that it cannot recover its table."""
        for log in self.workdir.glob(f"worker-{self.name}-*.log"):
            if RECOVERY_SIGNATURE in log.read_bytes():
                raise RuntimeError(f"table recovery failed ('Error in recovery' in {log}): a restarted "
                                   "worker can never become ready")

    def wait_split(self, deadline_s: float = 60.0) -> None:
        """Wait until the live workers own every partition between them, each at least one."""
        everything = list(range(self.partitions))

        def split() -> bool:
            parts = [(w.health() or {}).get("assigned_partitions") or [] for w in self.workers]
            return all(parts) and sorted(p for ps in parts for p in ps) == everything

        poll(split, deadline_s, f"{len(self.workers)} workers to share the partitions")

    def harvest(self, worker: Worker) -> None:
        """Add the worker's processing counters to :attr:`processed` and :attr:`dedup_hits`."""
        with contextlib.suppress(OSError, ValueError):
            m = worker.metrics()
            self.processed += int(sum(v for k, v in m.items() if k.startswith("tierstream_events_in_total{")))
            self.dedup_hits += int(m.get("tierstream_events_duplicate_total", 0))

    def stop_worker(self, worker: Worker) -> None:
        """Stop one worker gracefully (SIGTERM): it leaves the group and commits."""
        self.harvest(worker)
        stop_process(worker.proc)
        self.workers.remove(worker)

    def kill9(self, worker: Worker) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no final commit or flush."""
        self.harvest(worker)  # a moment before the kill: what it processes after this is not counted
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        self.workers.remove(worker)

    def stop_workers(self) -> None:
        for w in self.workers:
            stop_process(w.proc)
        self.workers.clear()

    # --- what the deployment holds ------------------------------------------------------

    def admin(self) -> KafkaAdminClient:
        """Open an admin client on the broker (the caller closes it)."""
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.name}-admin")

    def committed(self, admin: KafkaAdminClient, topics: list[str] | None = None) -> dict[str, int]:
        """Return the worker group's committed offsets, summed per inbound topic (or per one of ``topics``).

        Offsets on a fresh topic start at 0 and are contiguous, so the sum is the
        number of messages of that topic the group has processed and committed.
        """
        offsets = admin.list_group_offsets(self.name).get(self.name, {})
        per_topic = dict.fromkeys(self.inbound if topics is None else topics, 0)
        for tp, meta in offsets.items():
            if tp.topic in per_topic and meta.offset > 0:
                per_topic[tp.topic] += meta.offset
        return per_topic

    def snapshot(self, timeout_s: float = 120.0) -> Snapshots:
        """Return what ``tierstream snapshot`` computes: every entity as of the latest clock."""
        states = [EntityState.from_bytes(v) for v in read_states(self.settings, timeout_s).values()]
        if not states:
            return {}
        grader = Grader(load_rules())
        as_of = max(st.clock for st in states)
        return {(st.kind, st.entity_id): grader.snapshot(st, as_of).model_dump(mode="json")
                for st in states if not st.is_empty()}

    def wait_for_snapshot(self, expected: Snapshots, deadline_s: float, what: str) -> Snapshots:
        """Poll the snapshot until it equals ``expected``; at the deadline fail with the diff and the logs."""
        last: Snapshots = {}

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
        """Return the last lines of every worker log of this deployment (for failure messages)."""
        out = []
        for log in sorted(self.workdir.glob(f"worker-{self.name}-*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(out)

    # --- cleanup ------------------------------------------------------------------------

    def close(self, purge: bool = False) -> None:
        """Stop the workers and the private Redis; with ``purge``, delete the topics and Redis keys.

        The purge is best effort: the deployment's topics, its changelog and Faust's
        internal topics all start with its name, and so do its Redis keys.
        """
        self.stop_workers()
        if self.redis is not None:
            self.redis.kill()
        if not purge:
            return
        with contextlib.suppress(Exception):
            admin = self.admin()
            try:
                doomed = [t for t in admin.list_topics() if t.startswith(self.name)]
                if doomed:
                    admin.delete_topics(doomed)
            finally:
                admin.close()
        if self.store_url is None or self.redis is not None:
            return
        with contextlib.suppress(Exception):
            client = redis.Redis.from_url(self.store_url, socket_timeout=2)
            keys = list(client.scan_iter(match=f"{self.name}:*", count=1000))
            for i in range(0, len(keys), 1000):
                client.unlink(*keys[i : i + 1000])
            client.close()


def offline_snapshot(path: Path) -> Snapshots:
    """Return the offline scorer's snapshots of the events in ``path``: the reference of every parity check."""
    scorer = OfflineScorer(load_rules())
    as_of = run(scorer, read_lines(path))
    return {(s.entity_type, s.entity_id): s.model_dump(mode="json") for s in scorer.snapshots(as_of)}


def diff(expected: dict[Any, Any], got: dict[Any, Any], limit: int = 3) -> str:
    """Return how two snapshots differ: counts, and the differing fields of a few entities."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    changed = [k for k in expected if k in got and expected[k] != got[k]]
    lines = [f"{len(missing)} missing, {len(extra)} extra, {len(changed)} different"]
    for k in changed[:limit]:
        e, g = expected[k], got[k]
        lines.append(f"  {k}: " + ", ".join(f"{f}: {e[f]!r} != {g[f]!r}" for f in e if e[f] != g.get(f)))
    return "\n".join(lines)
