"""Whether anything listens at the Kafka bootstrap addresses, answered within seconds.

kafka-python only gives up on an unreachable bootstrap after ``bootstrap_timeout_ms``
(10 s, so a slow TLS or SASL handshake still succeeds); a TCP connection attempt
tells a stopped broker or a wrong port at once, so the client commands check it first.
"""

from __future__ import annotations

import socket
import time

from tierstream.schemas.settings import Settings
from tierstream.streams.kafka.config import bootstrap_servers

__all__ = ["reachable"]


def reachable(settings: Settings, timeout_s: float = 3.0) -> bool:
    """Return whether one of the bootstrap servers accepts a TCP connection within ``timeout_s`` in all."""
    deadline = time.monotonic() + timeout_s
    for server in bootstrap_servers(settings):
        host, _, port = server.rpartition(":")
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=left):
                return True
        except OSError:
            continue
    return False
