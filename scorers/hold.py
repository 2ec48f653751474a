"""Hysteresis over calendar days: what each tier remembers of the end-of-day scores of the lookback.

A tier is held "for ``min_days_in_tier`` after it last qualified", and through
``downgrade_margin``, ``grace_days`` and ``hold_days`` (see
:class:`schemas.rules.Hysteresis`): all counted over every calendar day, quiet
ones included. The end-of-day score of a quiet day is the score of the
window ending that day, so it is a function of the events alone, like the
tier.

Computing it for every day of the lookback at every grade would cost more
than the rest of the grade, so the engine keeps, per entity, one
:data:`~tierstream.scorers.grading.Track` per tier, valid up to a day
(``EntityState.hold``), and folds in only the days since: usually one.
Those days come in *stretches* over which the window does not change (no
day with activity entering it or leaving it, no prospect score or assessment
starting or ending): within one only the day moves, and with it only recency, so the
score is monotone across it (flat for a supplier) and the days on which it
reached a line are a prefix or a suffix, found by bisection. A late event
changes the end-of-day scores from its own day on, and the tracks are folded
again from the start of the lookback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from tierstream.schemas.rules import Hysteresis, Tier
from tierstream.scorers.assessed import assessment_days
from tierstream.scorers.grading import Track, advance_track, new_track
from tierstream.scorers.state import EntityState

__all__ = ["Stretch", "level_runs", "stretches", "tracks_for"]

#: ``(first day, last day, window totals)``: days over which the window stays the same
Stretch = tuple[int, int, list[int]]
#: ``score(totals, day)``: the end-of-day score of ``day`` whose window totals are ``totals``
DayScore = Callable[[list[int], int], float]


def _step_back(t: list[int], days: dict[int, list[int]], y: int, window: int) -> None:
    """Turn the totals of the window ending on ``y`` into those of the window ending on ``y - 1``."""
    b = days.get(y)
    if b is not None:
        for i, v in enumerate(b):
            t[i] -= v
    b = days.get(y - window)
    if b is not None:
        for i, v in enumerate(b):
            t[i] += v


def stretches(days: dict[int, list[int]], lo: int, hi: int, totals_after: list[int], window: int,
              cuts: set[int], every_day: bool = False) -> list[Stretch]:
    """The days ``lo..hi`` in stretches with one window each, oldest first.

    ``totals_after``: the totals of the window ending on ``hi + 1``; ``cuts``: other
    days that start a stretch (a prospect score or an assessment starting or ending); ``every_day``:
    one stretch per day (for rules whose score is not monotone in recency).
    """
    t = totals_after[:]
    _step_back(t, days, hi + 1, window)
    out: list[Stretch] = []
    last = hi
    for y in range(hi, lo, -1):  # t: the window ending on y
        if every_day or y in days or (y - window) in days or y in cuts:
            out.append((y, last, t[:]))
            last = y - 1
            _step_back(t, days, y, window)
    out.append((lo, last, t))
    out.reverse()
    return out


def level_runs(score: Callable[[int], float], first: int, last: int, line: float, hold_line: float,
               trend: int, after: float | None = None) -> list[tuple[int, int, int]]:
    """The runs of days of a stretch at level 2 (reached ``line``), 1 (on ``hold_line``) or 0 (under).

    ``score(day)`` is monotone over the stretch: constant (``trend`` 0), non-increasing
    (-1) or non-decreasing (1). Each level is one run at most, found by bisection; the
    last day is not even scored when the first says it all, or when ``after`` (the score
    of the day after the stretch, when that day has the same window) is at the same level.
    """
    s_first = score(first)
    lvl_first = 2 if s_first >= line else 1 if s_first >= hold_line else 0
    if first == last or trend == 0 or (trend < 0 and lvl_first == 0) or (trend > 0 and lvl_first == 2):
        return [(first, last, lvl_first)]
    if after is not None and lvl_first == (2 if after >= line else 1 if after >= hold_line else 0):
        return [(first, last, lvl_first)]
    s_last = score(last)
    lvl_last = 2 if s_last >= line else 1 if s_last >= hold_line else 0
    if lvl_first == lvl_last:
        return [(first, last, lvl_first)]
    falling = lvl_first > lvl_last
    runs: list[tuple[int, int, int]] = []
    start = first
    for level in (range(lvl_first, lvl_last, -1) if falling else range(lvl_first, lvl_last)):
        # where the days at ``level`` end: the score crosses ``bar`` (past ``start``, before ``last``)
        bar = (line if level == 2 else hold_line) if falling else (hold_line if level == 0 else line)
        if (score(start) >= bar) != falling:
            continue  # no day of the stretch at this level
        lo, hi = start, last  # lo is at ``level``, hi is past it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if (score(mid) >= bar) == falling:
                lo = mid
            else:
                hi = mid
        runs.append((start, lo, level))
        start = hi
    runs.append((start, last, lvl_last))
    return runs


def tracks_for(state: EntityState, group: str | None, tiers: list[Tier], upto: int, hyst: Hysteresis,
               today: int, totals_today: list[int], score_today: float, window: int, day_score: DayScore,
               trend: int | None, day_of: Callable[[int], int]) -> list[Track]:
    """The tracks of ``tiers`` (all but the lowest), the first ``upto`` brought up to ``today``.

    Each folds the days since it was last brought up to date, or the whole lookback
    when it is missing or stale; all start again when the state has none, or for
    another set of tiers (the customer's group changed), or when one is ahead of
    ``today``. Only the tiers better than the score's own are looked at, so the
    others lag until a grade needs them. End-of-day scores are cached in
    ``state.daily``. ``totals_today``, ``score_today``: today's window and score;
    ``group``: the customer group whose ``tiers`` these are;
    ``trend``: how the score moves with the day alone (see :func:`level_runs`);
    ``None``: not monotone, every day is scored. ``day_of``: the day of an instant.
    """
    lookback = hyst.lookback_days
    start = today - lookback
    memo = state.hold
    if memo is None or memo[1] != group or memo[0] > today:
        tracks = [new_track(start) for _ in tiers[:-1]]
        state.hold = memo = [start, group, tracks]
    tracks = cast(list[Track], memo[2])
    due = tracks[:upto]
    for tr in due:
        if tr[0] < start:  # nothing it remembers can hold a tier any more
            tr[:] = new_track(start)
    since = min((tr[0] for tr in due), default=today)
    if since < today:
        daily = state.daily
        p = state.prospect
        bounds = {day_of(p.at), day_of(p.expires)} if p is not None else set()
        if state.assessed:  # an assessment starting or expiring moves the score too
            bounds |= assessment_days(state, day_of)
        cuts = {tr[0] for tr in due if tr[0] > since}
        cuts.update(bounds)
        days = state.days
        # today's score bounds the last stretch's when today has the same window (no change today)
        same = not (today in days or today - window in days or today in bounds)
        level_trend = trend or 0
        margin = hyst.downgrade_margin
        cell: list[list[int]] = []

        def score(y: int) -> float:
            s = daily.get(y)
            if s is None:
                s = day_score(cell[0], y)
                state.cache_score(y, s)
            return s

        for first, last, t in stretches(days, since, today - 1, totals_today, window, cuts, trend is None):
            cell[:] = [t]
            after = score_today if same and last == today - 1 else None
            for tier, tr in zip(tiers, due, strict=False):
                if tr[0] <= first:  # each track's first day to fold is a cut: it starts a stretch
                    line = tier.min_score
                    advance_track(tr, hyst, level_runs(score, first, last, line, line - margin, level_trend, after))
        memo[0] = max(memo[0], today)
    return tracks
