"""A tiny, dependency-free progress bar for long CLI jobs.

Draws one line on stderr (rewritten in place with ``\\r``) with a bar, count,
rate and ETA, and only when that stream is a terminal: piped or redirected
output and tests stay clean. Redraws are throttled, so calling :meth:`update`
once per item is cheap enough; batching (``update(10_000)``) is cheaper.

Typical use::

    with Progress(total=1_000_000, desc="sample") as bar:
        for chunk in chunks:
            ...
            bar.update(len(chunk))
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rate(per_second: float, unit: str = "") -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.1f}M {unit}/s".replace(" /", "/")
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f}k {unit}/s".replace(" /", "/")
    return f"{per_second:.0f} {unit}/s".replace(" /", "/")


class Progress:
    """Context manager drawing ``desc [#####.....]  45% 450,000/1,000,000 120.3k/s ETA 0:04``.

    ``total`` may be ``None`` (unknown) or an estimate: the bar then stops at 99%
    until :meth:`close`. ``enabled=None`` (default) means "stream is a TTY".
    """

    def __init__(
        self,
        total: int | None = None,
        desc: str = "",
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        unit: str = "",
        width: int = 30,
        min_interval: float = 0.1,
    ) -> None:
        self.total = total if total is None or total > 0 else None
        self.desc = desc
        self.unit = unit
        self.stream: TextIO = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.width = max(5, width)
        self.min_interval = min_interval
        self.count = 0
        self._start = time.monotonic()
        self._last_draw = float("-inf")
        self._last_len = 0
        self._closed = False

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        self._draw(time.monotonic())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(done=exc_type is None)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done; redraws at most every ``min_interval`` seconds."""
        self.count += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval:
            self._draw(now)

    def close(self, done: bool = True) -> None:
        """Draw the final state (100% when ``done``) and end the line."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        self._draw(time.monotonic(), final=done)
        self.stream.write("\n")
        self.stream.flush()

    def render(self, now: float | None = None, final: bool = False) -> str:
        """The line as it would be drawn (without ``\\r``); handy for tests."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self.count / elapsed
        unit = f" {self.unit}" if self.unit else ""
        parts = [self.desc] if self.desc else []
        if self.total is not None:
            frac = 1.0 if final else min(self.count / self.total, 0.99)
            filled = int(frac * self.width)
            parts.append("[" + "#" * filled + "." * (self.width - filled) + "]")
            parts.append(f"{frac * 100:3.0f}%")
            shown = self.count if final else max(self.total, self.count)
            parts.append(f"{self.count:,}/{shown:,}{unit}")
        else:
            parts.append(f"{self.count:,}{unit}")
        parts.append(_rate(rate, self.unit))
        if final:
            parts.append(f"in {_duration(elapsed)}")
        elif self.total is not None and rate > 0:
            parts.append(f"ETA {_duration(max(self.total - self.count, 0) / rate)}")
        return " ".join(parts)

    def _draw(self, now: float, final: bool = False) -> None:
        if not self.enabled:
            return
        self._last_draw = now
        line = self.render(now, final)
        pad = " " * max(0, self._last_len - len(line))
        self._last_len = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()
