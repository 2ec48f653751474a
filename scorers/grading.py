"""Composite score, tier with hysteresis, RFM segment: plain functions over plain data."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, NamedTuple

from tierstream.schemas.rules import EntityRules, Hysteresis, RfmThresholds, Tier
from tierstream.scorers.catalog import metric_key
from tierstream.scorers.messages import Code, code
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.scale import Scale
from tierstream.scorers.terms import tier_term

__all__ = [
    "SEGMENTS",
    "Composite",
    "Dim",
    "Track",
    "advance_track",
    "compile_dims",
    "composite",
    "held_tier",
    "hold_lapses",
    "new_track",
    "raw_tier_index",
    "rfm_segment",
    "tier_index",
]

class Composite(NamedTuple):
    """A weighted score (a tuple: built once per grade, on the hot path)."""

    score: float
    components: dict[str, float]  # dimension -> 0..100, only dimensions with evidence
    weight_total: float  # sum of the weights of the dimensions present


@dataclass(frozen=True, slots=True)
class Dim:
    """A dimension compiled for the hot path."""

    name: str
    metric: str
    weight: float
    scale: Scale


def compile_dims(rules: EntityRules) -> tuple[Dim, ...]:
    return tuple(Dim(n, metric_key(n, d.metric), d.weight, Scale(d.scale)) for n, d in rules.dimensions.items())


def composite(dims: tuple[Dim, ...], metrics: Metrics) -> Composite:
    """Weighted mean of the dimension scores that have evidence (weights rescaled).

    The scale is :meth:`Scale.__call__` written out: this runs for every grade.
    """
    components: dict[str, float] = {}
    num = 0.0
    den = 0.0
    for dim in dims:
        x = metrics[dim.metric]
        if x is None:
            continue
        sc = dim.scale
        xs, ys = sc.xs, sc.ys
        if x <= xs[0]:
            c = ys[0]
        elif x >= xs[-1]:
            c = ys[-1]
        else:
            i = bisect_right(xs, x)
            x0, y0 = xs[i - 1], ys[i - 1]
            c = y0 + (ys[i] - y0) * (x - x0) / (xs[i] - x0)
        components[dim.name] = round(c, 2)
        w = dim.weight
        num += w * c
        den += w
    return Composite(round(num / den, 2) if den else 0.0, components, den)


def raw_tier_index(tiers: list[Tier], score: float) -> int:
    for i, t in enumerate(tiers):  # best first; the last has min_score 0
        if score >= t.min_score:
            return i
    return len(tiers) - 1


def tier_index(tiers: list[Tier], name: str | None) -> int | None:
    for i, t in enumerate(tiers):
        if t.name == name:
            return i
    return None


#: what hysteresis remembers of one tier over the past calendar days (see :func:`advance_track`):
#: ``[until, q, h, broken]``: the days before ``until`` folded in; the last day the end-of-day
#: score reached the tier's minimum, the last day it stood on the tier's hold line (``None``:
#: never), and whether the hold broke (1) after ``q``
Track = list[Any]


def new_track(since: int) -> Track:
    """A track that has seen nothing before day ``since``."""
    return [since, None, None, 0]


def advance_track(track: Track, hyst: Hysteresis, runs: list[tuple[int, int, int]]) -> None:
    """Fold consecutive runs of past days into ``track``, oldest first.

    ``runs`` are ``(first day, last day, level)``: level 2 when the end-of-day
    score reached the tier's minimum on every day of the run, 1 when it stood
    on its hold line (``min_score - downgrade_margin``) but under the minimum,
    0 when it was under the hold line. The hold breaks on the first day past ``min_days_in_tier`` whose
    score has been under the hold line for ``grace_days`` days (a day with no
    hold: once broken, a hold never comes back until the tier is reached again).
    """
    _, q, h, broken = track
    for first, last, level in runs:
        if level == 2:
            q, h, broken = last, last, 0
        elif level == 1:
            h = last
        elif (q is not None and h is not None and not broken
              and max(first, q + hyst.min_days_in_tier, h + hyst.grace_days) <= last):
            broken = 1
    track[0], track[1], track[2], track[3] = runs[-1][1] + 1, q, h, broken


def held_tier(
    tiers: list[Tier], hyst: Hysteresis, score: float, today: int, tracks: list[Track]
) -> tuple[int, Code | None]:
    """Index of the tier held today, and (when hysteresis holds it) why, as a message.

    ``tracks[i]`` is what tier ``i`` remembers of the calendar days before
    ``today``, for every tier better than the score's own. A tier is held only if it was held
    on every day since its score last reached it, so a hold never takes an
    entity back up to a tier it had fallen from. See :class:`schemas.rules.Hysteresis`.
    """
    raw = raw_tier_index(tiers, score)
    for i in range(raw):  # tiers better than the raw one, best first
        t = tiers[i]
        _, q, h, broken = tracks[i]
        if q is None:
            continue
        age = today - q
        if age < hyst.min_days_in_tier:
            return i, code("held.min_days", tier=tier_term(tiers, t.name), age=age, min_days=hyst.min_days_in_tier)
        if age >= hyst.hold_days or broken:
            continue
        hold_line = t.min_score - hyst.downgrade_margin
        if score >= hold_line:
            return i, code("held.margin", tier=tier_term(tiers, t.name), score=score,
                           margin=hyst.downgrade_margin, minimum=t.min_score)
        if h is not None and today - h < hyst.grace_days:
            return i, code("held.grace", tier=tier_term(tiers, t.name), line=hold_line, days=today - h,
                           grace=hyst.grace_days)
    return raw, None


def hold_lapses(tiers: list[Tier], hyst: Hysteresis, held: int, score: float, track: Track) -> list[int]:
    """Days on which a hysteresis hold of tier ``held`` can lapse with no new event.

    Grace runs out ``grace_days`` after the score left the hold line; while the
    score is still on it, the day it falls under is a recency crossing (the engine's).
    """
    _, q, h, _ = track
    if q is None:
        return []
    days = [q + hyst.min_days_in_tier, q + hyst.hold_days]
    if h is not None and score < tiers[held].min_score - hyst.downgrade_margin:
        days.append(h + hyst.grace_days)
    return days


SEGMENTS = {
    (True, True, True): "important_value",
    (True, False, True): "important_development",
    (False, True, True): "important_retention",
    (False, False, True): "important_win_back",
    (True, True, False): "general_value",
    (True, False, False): "general_development",
    (False, True, False): "general_retention",
    (False, False, False): "general_win_back",
}


def rfm_segment(rfm: RfmThresholds, metrics: Metrics) -> str | None:
    """The classic eight RFM segments (high/low R, F, M); ``None`` for a customer who never ordered."""
    recency = metrics.get("recency_days")
    if recency is None:
        return None
    r = recency <= rfm.recency_days
    f = (metrics.get("order_count") or 0) >= rfm.frequency
    m = (metrics.get("revenue") or 0) >= rfm.monetary
    return SEGMENTS[(r, f, m)]
