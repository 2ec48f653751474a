"""The integration tests' helpers: the one harness (:mod:`tierstream.streams.dev.harness`), under the tests' names."""

from __future__ import annotations

from tierstream.streams.dev.harness import Deployment as Stream
from tierstream.streams.dev.harness import diff, free_port, offline_snapshot, poll

__all__ = ["Stream", "diff", "free_port", "offline_snapshot", "poll"]
