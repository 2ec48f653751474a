"""Composite score, tier with hysteresis, RFM segment: plain functions over plain data."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

from tierstream.schemas.rules import EntityRules, Hysteresis, RfmThresholds, Tier
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.scale import Scale

__all__ = [
    "SEGMENTS",
    "Composite",
    "Dim",
    "compile_dims",
    "composite",
    "held_tier",
    "hold_lapses",
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
    return tuple(Dim(n, d.metric, d.weight, Scale(d.scale)) for n, d in rules.dimensions.items())


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


def _newest_reaching(past: list[tuple[int, float]], line: float) -> int | None:
    """The newest day of ``past`` (newest first) whose score reached ``line``."""
    for d, s in past:
        if s >= line:
            return d
    return None


def held_tier(
    tiers: list[Tier], hyst: Hysteresis, score: float, today: int, past: list[tuple[int, float]]
) -> tuple[int, str | None]:
    """Index of the tier held today, and (when hysteresis holds it) why, in plain words.

    ``past`` is ``(day, end-of-day score)`` for the days with activity in the
    lookback before ``today``, newest first. See :class:`schemas.rules.Hysteresis`.
    """
    raw = raw_tier_index(tiers, score)
    for i in range(raw):  # tiers better than the raw one, best first
        t = tiers[i]
        hold_line = t.min_score - hyst.downgrade_margin
        q = _newest_reaching(past, t.min_score)
        if q is None:
            continue
        age = today - q
        if age < hyst.min_days_in_tier:
            return i, f"held in {t.name}: reached {age} days ago, minimum time in tier is {hyst.min_days_in_tier} days"
        if age >= hyst.hold_days:
            continue
        if score >= hold_line:
            return i, (f"held in {t.name}: score {score:.1f} is within the {hyst.downgrade_margin:g}-point "
                       f"margin below {t.min_score:g}")
        h = _newest_reaching(past, hold_line)
        if h is not None and today - h < hyst.grace_days:
            return i, (f"held in {t.name}: score under {hold_line:g} for {today - h} days, "
                       f"grace is {hyst.grace_days} days")
    return raw, None


def hold_lapses(
    tiers: list[Tier], hyst: Hysteresis, held: int, score: float, past: list[tuple[int, float]]
) -> list[int]:
    """Days on which a hysteresis hold of tier ``held`` can lapse with no new event."""
    t = tiers[held]
    hold_line = t.min_score - hyst.downgrade_margin
    q = _newest_reaching(past, t.min_score)
    if q is None:
        return []
    days = [q + hyst.min_days_in_tier, q + hyst.hold_days]
    h = _newest_reaching(past, hold_line)
    if h is not None:
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
