"""Time in the simulation: epoch seconds, RFC 3339 formatting, and when people buy."""

from __future__ import annotations

from datetime import date

__all__ = ["BUSINESS", "BUSINESS_MAX", "CONSUMER", "CONSUMER_MAX", "DAY", "HOUR", "YEAR", "Clock", "hour_of_week"]

DAY = 86_400.0
HOUR = 3_600.0
YEAR = 365.0 * DAY


def _weekly_profile(hourly: list[float], weekend: float) -> list[float]:
    """168 hourly weights (Monday 00:00 local first) normalised to mean 1."""
    week = [hourly[h] * (weekend if d >= 5 else 1.0) for d in range(7) for h in range(24)]
    mean = sum(week) / len(week)
    return [w / mean for w in week]


# Consumers buy in the evening and at weekends; businesses in office hours on weekdays.
CONSUMER = _weekly_profile(
    [0.3, 0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.1,
     1.2, 1.1, 1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.7, 1.5, 1.1, 0.6],
    weekend=1.3,
)  # fmt: skip
BUSINESS = _weekly_profile(
    [0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.15, 0.5, 1.2, 1.6, 1.7, 1.5,
     1.0, 1.4, 1.6, 1.5, 1.3, 0.8, 0.3, 0.15, 0.1, 0.05, 0.03, 0.02],
    weekend=0.12,
)  # fmt: skip
CONSUMER_MAX = max(CONSUMER)
BUSINESS_MAX = max(BUSINESS)


class Clock:
    """Formats epoch seconds as RFC 3339 in a given UTC offset (minutes).

    Caches "date T hour" prefixes (one per local hour and offset seen) and the
    3600 "MM:SS" strings: formatting is the generator's hottest path.
    """

    _MMSS = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))

    def __init__(self) -> None:
        self._hours: dict[tuple[int, int], str] = {}
        self._epoch_ordinal = date(1970, 1, 1).toordinal()

    def fmt(self, t: float, offset: int) -> str:
        hour, rest = divmod(int(t // 1) + offset * 60, 3600)  # down, also before 1970
        prefix = self._hours.get((hour, offset))
        if prefix is None:
            day, hh = divmod(hour, 24)
            ds = date.fromordinal(self._epoch_ordinal + day).isoformat()
            prefix = f"{ds}T{hh:02d}:"
            self._hours[(hour, offset)] = prefix
        if offset == 0:
            return prefix + self._MMSS[rest] + "Z"
        oh, om = divmod(abs(offset), 60)
        return f"{prefix}{self._MMSS[rest]}{'+' if offset > 0 else '-'}{oh:02d}:{om:02d}"


def hour_of_week(t: float, offset: int) -> int:
    local = int(t // 1) + offset * 60
    # 1970-01-01 was a Thursday (index 3 with Monday = 0).
    return ((local // 86_400 + 3) % 7) * 24 + (local // 3600) % 24
