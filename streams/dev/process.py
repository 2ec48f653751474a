"""The lifecycle the embedded servers share: a child process on loopback, probed until it answers.

:class:`EmbeddedServer` spawns a server binary in its own process group with its output
in a log file, waits until its probe answers, moves it to a new free port when the one
it was given was taken in between, and stops its whole group.  The Tansu broker
(:mod:`~streams.dev.broker`) and Valkey (:mod:`~streams.dev.valkey`) subclass it with
their argv and their probe.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from tierstream.streams.dev.ports import LOOPBACK, free_port

__all__ = ["EmbeddedServer", "die_with_parent_hook"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_ATTEMPTS = 3  # starts on a new free port after the port was taken, in all


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


class EmbeddedServer(ABC):
    """A server child process on a loopback port, in its own process group, its output in a log file.

    Use as a context manager, or call :meth:`start` / :meth:`stop` explicitly.  The
    process runs in its own session so :meth:`stop` can signal its whole group and
    nothing outlives it; an ``atexit`` hook stops it if the caller forgets.  A subclass
    names the server and its start error, and gives :meth:`_argv` and :meth:`_probe`.
    """

    #: what messages call the server
    name: ClassVar[str] = "server"
    #: what the probe asks, for messages
    probe_name: ClassVar[str] = "its probe"
    #: prefix of the temp log file when no ``log_path`` is given
    log_prefix: ClassVar[str] = "server-"
    #: raised when the server exits or does not answer during :meth:`start`
    start_error: ClassVar[type[Exception]] = RuntimeError

    def __init__(
        self,
        *,
        port: int | None = None,
        log_path: Path | str | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        """Configure (but do not start) the server.

        :param port: listen there, always (no move to a free port); ``None``: a free port.
        :param log_path: file receiving the server's stdout/stderr; a fresh temp file
            (:attr:`log_prefix` ``*.log``) when omitted.
        :param start_timeout: seconds :meth:`start` waits for the probe to answer.
        :param stop_timeout: seconds :meth:`stop` waits after SIGTERM before SIGKILL.
        :param env: extra environment variables for the server process.
        :param die_with_parent: on Linux, have the kernel SIGTERM the server if this process
            dies without calling :meth:`stop` (e.g. killed by a signal).  Linux delivers it
            when the *thread* that called :meth:`start` exits, so start the server from a
            long-lived thread (the main thread, a pytest fixture) or pass ``False``.
        """
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix=self.log_prefix, suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path: Path = Path(log_path)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._extra_env: dict[str, str] = dict(env or {})
        self._die_with_parent = die_with_parent
        self._fixed_port = port is not None
        self._port: int | None = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def port(self) -> int:
        """The loopback port the server listens on (or last listened on)."""
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._port

    @property
    def pid(self) -> int | None:
        """PID of the server process (also its process-group id), ``None`` if not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Return whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @abstractmethod
    def _argv(self) -> list[str]:
        """Return the command line of the server listening on :attr:`port`."""

    @abstractmethod
    def _probe(self) -> None:
        """Return when the server answers on :attr:`port`; raise :class:`OSError` while it does not."""

    def _first_port(self) -> int:
        """Return the port a start tries first: the one the server had (clients point there), else a free one."""
        return self._port if self._port is not None else free_port()

    def start(self) -> Self:
        """Spawn the server and block until its probe answers (raises :attr:`start_error`).

        A free port picked here may be taken by another process before the server binds
        it: then the server exits, and it is started again on a new free port (twice at
        most), unless its port was given.
        """
        if self.running:
            raise RuntimeError(f"{self.name} already started")
        self.stop()  # reap a server that ended by itself, close its log
        self._port = self._first_port()
        attempt = 1
        while True:
            self._spawn()
            try:
                code = self._wait_ready()
            except BaseException:
                self.stop()
                raise
            if code is None:
                atexit.register(self.stop)
                return self
            error = self.start_error(
                f"{self.name} exited with code {code} before answering {self.probe_name} on port {self.port}; "
                f"log {self.log_path}:\n{self._log_tail()}"
            )
            self.stop()
            if self._fixed_port or attempt == _ATTEMPTS:
                raise error
            self._port = free_port()
            attempt += 1

    def _spawn(self) -> None:
        argv = self._argv()
        self._log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self._extra_env},
            start_new_session=True,  # own session => own process group, pgid == pid
            preexec_fn=die_with_parent_hook() if self._die_with_parent else None,
        )

    def _wait_ready(self) -> int | None:
        """Poll the probe until it answers (``None``) or the process exits (its code); raise after the timeout."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        delay = 0.01
        last: Exception | None = None
        while True:
            code = self._proc.poll()
            if code is not None:
                return code
            try:
                self._probe()
            except OSError as exc:
                last = exc
            else:
                return None
            if time.monotonic() >= deadline:
                raise self.start_error(
                    f"{self.name} did not answer {self.probe_name} on port {self.port} within "
                    f"{self.start_timeout:g}s ({last!r}); log {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(delay)  # poll interval, not a synchronisation sleep
            delay = min(delay * 2, 0.2)

    def _log_tail(self, max_bytes: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-max_bytes:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after ``stop_timeout``, reap it (idempotent)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the server's process group at once (also when stopped by SIGSTOP): no shutdown."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            pgid = proc.pid  # start_new_session=True makes the child its group leader
            self._signal_group(pgid, signal.SIGCONT)  # a stopped (SIGSTOP) server must be able to exit
            self._signal_group(pgid, sig)
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

    def __repr__(self) -> str:
        state = f"{LOOPBACK}:{self.port} pid={self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {state} log={self.log_path}>"
