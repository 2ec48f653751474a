"""Small helpers shared by the benchmark phases: progress lines, the time budget, percentiles."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

__all__ = ["POLL_S", "Budget", "percentile", "rate", "say"]

POLL_S = 0.25  # interval between progress checks (polling, not synchronisation)

_T0 = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since the bench started."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Budget:
    """The whole run's time limit; phases take deadlines from what is left."""

    total_s: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.total_s - (time.monotonic() - self.started)

    def deadline(self, cap_s: float | None = None) -> float:
        """A monotonic deadline: ``cap_s`` from now, but never past the end of the budget."""
        span = self.left() if cap_s is None else min(cap_s, self.left())
        return time.monotonic() + max(0.0, span)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1) of an ascending list; ``None`` if empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def rate(count: float, seconds: float) -> float | None:
    """Return ``count / seconds``, or None for no time."""
    return count / seconds if seconds > 0 else None
