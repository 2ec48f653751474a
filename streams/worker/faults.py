"""A test-only switch that makes grading raise or stall on chosen events (``TIERSTREAM_TEST_GRADING_FAULTS``).

It stands for a bug or a hang in the grading code, so that the fault scenarios
can show what the worker does then (``streams.worker.isolation``). The file is
JSON: ``{"raise": [event ids], "stall": {event id: seconds}, "stalling": path}``;
while a stall lasts, ``stalling`` (if given) holds the event id, for a test to
poll. Unset, the processor skips the check entirely.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GradingFaults", "InjectedGradingError"]


class InjectedGradingError(RuntimeError):
    """The error the switch raises in place of a bug in the grading code."""


@dataclass(frozen=True)
class GradingFaults:
    """The events on which grading raises, and those on which it stalls (seconds)."""

    raise_on: frozenset[str]
    stall_on: Mapping[str, float]
    stalling: Path | None = None

    @classmethod
    def load(cls, path: Path) -> GradingFaults:
        """Read the switch's file (see the module)."""
        doc = json.loads(path.read_text())
        return cls(frozenset(doc.get("raise", [])), {str(k): float(v) for k, v in doc.get("stall", {}).items()},
                   Path(doc["stalling"]) if doc.get("stalling") else None)

    def before_grading(self, event_id: str) -> None:
        """Stall (blocking the worker, as a hang in grading would) or raise, when ``event_id`` is chosen."""
        seconds = self.stall_on.get(event_id)
        if seconds:
            if self.stalling is not None:
                self.stalling.write_text(event_id)
            time.sleep(seconds)
            if self.stalling is not None:
                self.stalling.write_text("")
        if event_id in self.raise_on:
            raise InjectedGradingError(f"injected grading error on event {event_id}")
