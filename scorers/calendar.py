"""The business's calendar: which day an instant falls on, and when a day starts.

Every day the scorers count (day buckets, window edges, recency, days late,
hysteresis days) is a calendar day of the rules' ``timezone``, numbered as
days since 1970-01-01 (negative before): day ``d`` is the local date
``1970-01-01 + d days`` and runs from its local midnight, included, to the next
one, excluded (23 or 25 hours on a daylight-saving change).

The day of an event is computed for every event, so it must be cheap. In UTC
it is ``t // DAY`` and callers inline that (:attr:`Calendar.utc`). In another
zone the UTC offset is cached per hour: offsets change on hour boundaries
except for a few historical transitions (local mean time, odd offsets), and an
hour whose two ends disagree is computed exactly every time, never cached.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time

from tierstream.scorers.layout import DAY

__all__ = ["UTC_NAMES", "Calendar"]

HOUR = 3600
#: zone names that are UTC itself: their day is ``t // DAY``, with no lookup
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: the instants Python's calendar can hold in any zone (a day of margin at both ends)
_REPRESENTABLE = (int(datetime(1, 1, 2, tzinfo=UTC).timestamp()), int(datetime(9999, 12, 30, tzinfo=UTC).timestamp()))
_MAX_CACHED_HOURS = 1 << 17  # about 15 years of hours: the cache is cleared when it grows past it


class Calendar:
    """Days of one IANA time zone: :meth:`day` of an instant, :meth:`start` of a day."""

    __slots__ = ("_day", "_hi", "_hours", "_lo", "_starts", "name", "utc", "zone")

    def __init__(self, name: str = "UTC") -> None:
        self.name = name
        #: the zone is UTC: ``day(t) == t // DAY`` (hot paths inline it when this is true)
        self.utc = name in UTC_NAMES
        self.zone = zoneinfo.ZoneInfo(name)
        self._hours: dict[int, int] = {}
        self._starts: dict[int, int] = {}
        self._lo, self._hi, self._day = 0, 0, 0  # the last day asked for: [lo, hi) is ``_day``

    def _offset_now(self, t: int) -> int:
        if not _REPRESENTABLE[0] <= t <= _REPRESENTABLE[1]:
            return 0  # a sentinel such as a state's clock before any event (``state.NEVER``)
        off = datetime.fromtimestamp(t, self.zone).utcoffset()
        return 0 if off is None else int(off.total_seconds())

    def offset(self, t: int) -> int:
        """The zone's UTC offset at instant ``t``, in seconds (cached per hour)."""
        h = t // HOUR
        off = self._hours.get(h)
        if off is None:
            off = self._offset_now(h * HOUR)
            if off != self._offset_now(h * HOUR + HOUR - 1):
                return self._offset_now(t)  # a transition inside this hour: exact, not cached
            if len(self._hours) >= _MAX_CACHED_HOURS:
                self._hours.clear()
            self._hours[h] = off
        return off

    def day(self, t: int) -> int:
        """The day number of instant ``t`` (epoch seconds): its local date, as days since 1970-01-01.

        The day last asked for is remembered with its bounds: most questions are about the
        clock's day (an event's, a grade's), and they come in runs.
        """
        if self._lo <= t < self._hi:
            return self._day
        if self.utc:
            return t // DAY
        d = (t + self.offset(t)) // DAY
        if _REPRESENTABLE[0] <= t <= _REPRESENTABLE[1]:  # not a sentinel (``state.NEVER``)
            self._lo, self._hi, self._day = self.start(d), self.start(d + 1), d
        return d

    def _local_day(self, t: int) -> int:
        """The day of ``t`` from its offset alone (no last-day memory: :meth:`start` uses it)."""
        return (t + self.offset(t)) // DAY

    def start(self, day: int) -> int:
        """The first instant of ``day``: its local midnight (or the first instant after a gap there)."""
        if self.utc:
            return day * DAY
        t = self._starts.get(day)
        if t is None:
            local = datetime.combine(date.fromordinal(day + _EPOCH_ORDINAL), time(0), self.zone)
            t = int(local.timestamp())
            if self._local_day(t) != day or self._local_day(t - 1) >= day:
                # midnight skipped by a gap (or repeated): the first instant the day holds
                lo, hi = t - 2 * DAY, t + 2 * DAY
                while lo < hi:
                    mid = (lo + hi) // 2
                    if self._local_day(mid) >= day:
                        hi = mid
                    else:
                        lo = mid + 1
                t = lo
            if len(self._starts) >= _MAX_CACHED_HOURS:
                self._starts.clear()
            self._starts[day] = t
        return t

    def end(self, day: int) -> int:
        """The last second of ``day``."""
        return self.start(day + 1) - 1
