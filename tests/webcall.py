"""One HTTP request to a worker on loopback, as the tests make them: GET, or POST with a body and a token."""

from __future__ import annotations

import urllib.error
import urllib.request
from email.message import Message

__all__ = ["request"]


def request(port: int, path: str, body: bytes | None = None, token: str | None = None,
            timeout: float = 5.0) -> tuple[int, Message, bytes]:
    """Return the status, headers and body of ``path`` (POST when ``body`` is given); errors are answers too."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 method="POST" if body is not None else "GET")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
