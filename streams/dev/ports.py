"""Loopback ports for the embedded servers of ``tierstream dev``, the tests and the bench."""

from __future__ import annotations

import socket

__all__ = ["LOOPBACK", "free_port"]

LOOPBACK = "127.0.0.1"


def free_port(preferred: int = 0) -> int:
    """Return ``preferred`` if nothing is bound to it on loopback, else a free port the kernel picks.

    The port is released before the caller's server binds it, so another process could
    take it in between: a server that fails to bind should be started again on a new one.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, preferred))
        except OSError:
            sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port
