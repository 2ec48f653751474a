"""Explanations in plain words: why a tier moved, and what it takes to reach the next one.

Both are exact against the published rules. A change is headed by what made
it: a manual override or a prospect assessment says so (with its author and
reason), and only a change the score made is explained by the score. The
dimensions listed are those that moved, ranked by their share of the score's
move. A hint names the least move of one metric, in its own unit, that
really reaches a tier's minimum from the unrounded score, the other dimensions
as they are; when no single metric can, a combined one (more orders of the
customer's average size, more perfect deliveries of the supplier's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from tierstream.schemas.outputs import Direction, NextTier, NextTierCodes
from tierstream.schemas.rules import CustomerRules, EntityRules, SupplierRules, Tier
from tierstream.scorers.assessed import assessed_codes
from tierstream.scorers.calendar import Calendar
from tierstream.scorers.catalog import METRICS, metric_key
from tierstream.scorers.grading import Composite
from tierstream.scorers.layout import DAY
from tierstream.scorers.messages import Code, code, render_all
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.moves import reason_codes, reasons
from tierstream.scorers.outcome import Grade, iso_day
from tierstream.scorers.scale import Scale
from tierstream.scorers.state import EntityState, Manual
from tierstream.scorers.terms import tier_term

__all__ = [
    "change_reason_codes", "change_reasons", "held_by_hysteresis", "next_tier", "next_tier_with_codes",
    "reason_codes", "reasons",
]

_EPS = 1e-9  # a score this close under a minimum reaches it (what the engine's rounding does too)
_MAX_MORE = 1 << 20  # a combined hint needing more than this many orders or deliveries is none

Scales = dict[str, Scale]


def _date(t: int, calendar: Calendar | None) -> str:
    """The date of instant ``t`` in the rules' time zone (``calendar``; ``None``: UTC)."""
    if calendar is None or calendar.utc:
        return datetime.fromtimestamp(t, UTC).date().isoformat()
    return iso_day(calendar.day(t))


def _active(manual: Manual | None, now: int) -> bool:
    return manual is not None and manual.at <= now < manual.expires


def held_by_hysteresis(state: EntityState, tiers: list[Tier], tier_idx: int, comp: Composite, now: int) -> bool:
    """Whether the tier is kept only by hysteresis: the score is under its minimum, no override sets it."""
    return comp.score < tiers[tier_idx].min_score and not _active(state.override, now)


# --- why a tier moved -------------------------------------------------------------


def change_reasons(
    rules: EntityRules, tiers: list[Tier], state: EntityState, now: int, direction: Direction, g: Grade,
    calendar: Calendar | None = None, language: str = "en",
) -> list[str]:
    """Why the published tier moves to ``g.tier`` at ``now``, in words of ``language`` (:func:`change_reason_codes`)."""
    return render_all(change_reason_codes(rules, tiers, state, now, direction, g, calendar), language)


def change_reason_codes(
    rules: EntityRules, tiers: list[Tier], state: EntityState, now: int, direction: Direction, g: Grade,
    calendar: Calendar | None = None,
) -> list[Code]:
    """Why the published tier moves to ``g.tier`` at ``now``: the cause first, then what moved.

    ``state`` is the entity before the change is published (its published tier
    and components are the previous ones); the grade's own notes (hysteresis)
    come last. ``calendar``: the rules' time zone, whose dates the head shows
    (an override's or assessment's end; ``None``: UTC).
    """
    head = _head(rules, tiers, state, now, direction, g, calendar)
    if direction == "ungraded":
        return [head, *g.note_codes]  # no score: no dimension moved it
    assessed = rules.assessed()
    said = assessed_codes(state, assessed, now, lambda t: _date(t, calendar)) if assessed else None
    return [head, *reason_codes(rules, state.published_components, g.comp, g.metrics, assessed=said),
            *g.note_codes]


def _head(rules: EntityRules, tiers: list[Tier], state: EntityState, now: int, direction: Direction,
          g: Grade, calendar: Calendar | None) -> Code:
    comp, new, old = g.comp, g.tier, state.published_tier
    if direction == "ungraded":
        return code("change.ungraded", why=g.ungraded_code)
    ov, p = state.override, state.prospect
    if ov is not None and _active(ov, now):
        return code("change.override", author=ov.author, reason=ov.reason, until=_date(ov.expires, calendar))
    if p is not None and "prospect" in comp.components:
        return code("change.prospect", author=p.author, reason=p.reason, score=float(p.value),
                    tier=tier_term(tiers, new))
    if direction == "initial":
        by_score = code("change.enough_evidence" if old else "change.first_grading", score=comp.score,
                        tier=tier_term(tiers, new))
    elif direction == "upgrade":
        line = tiers[g.tier_idx].min_score
        by_score = code("change.reached", score=_score_vs(comp.score, line), tier=tier_term(tiers, new),
                        minimum=line)
    else:
        was = next((t for t in tiers if t.name == old), None)
        by_score = (code("change.fell_below", score=comp.score, tier=tier_term(tiers, old)) if was is None else
                    code("change.fell_below_minimum", score=_score_vs(comp.score, was.min_score),
                         tier=tier_term(tiers, old), minimum=was.min_score))
    if ov is not None and old == str(ov.value) and ov.expires <= now < ov.expires + DAY:
        return code("change.override_ended", author=ov.author, date=_date(ov.expires, calendar), then=by_score)
    if p is not None and "prospect" in state.published_components:
        if p.expires <= now:
            return code("change.prospect_ended", author=p.author, date=_date(p.expires, calendar), then=by_score)
        if isinstance(rules, CustomerRules):
            return code("change.prospect_orders", author=p.author, most=rules.prospect.newcomer_max_orders,
                        then=by_score)
        most = cast(SupplierRules, rules).prospect.newcomer_max_deliveries
        return code("change.prospect_deliveries", author=p.author, most=most, then=by_score)
    return by_score


def _score_vs(score: float, line: float) -> str:
    """The score with one decimal, two when one would put it on the other side of ``line`` (39.99, not 40.0)."""
    shown = f"{score:.1f}"
    return shown if (float(shown) >= line) == (score >= line) else f"{score:.2f}"


# --- what it takes ------------------------------------------------------------------


class _Scorer:
    """The unrounded composite of the metrics, with any of them replaced (the hypotheses of a hint).

    The sum of the weighted scores is kept, so a hypothesis only rescores the
    dimensions it changes.
    """

    __slots__ = ("den", "dims", "num", "values")

    def __init__(self, rules: EntityRules, scales: Scales | None, metrics: Metrics) -> None:
        self.values: dict[str, float] = {}
        self.dims: list[tuple[str, float, Scale, float]] = []  # metric, weight, scale, weighted score
        self.num = self.den = 0.0
        for name, dim in rules.dimensions.items():
            key = metric_key(name, dim.metric)
            x = metrics.get(key)
            if x is None:
                continue
            sc = scales[name] if scales else Scale(dim.scale)
            wc = dim.weight * sc(x)
            self.values[key] = x
            self.dims.append((key, dim.weight, sc, wc))
            self.num += wc
            self.den += dim.weight

    def score(self, changed: dict[str, float]) -> float:
        num = self.num
        for metric, w, sc, wc in self.dims:
            if metric in changed:
                num += w * sc(changed[metric]) - wc
        return num / self.den if self.den else 0.0

    def reaches(self, line: float, changed: dict[str, float]) -> bool:
        return self.score(changed) >= line - _EPS


def _single(sc: _Scorer, metric_name: str, weight: float, scale: Scale, wc: float, line: float) -> Code | None:
    """The least move of one metric, in its unit, that alone brings the score to ``line``.

    ``wc``: the dimension's weighted score now.
    """
    metric = METRICS.get(metric_name)
    if metric is None or metric.hint is None:  # no hint, or a person's assessment: not the entity's to move
        return None
    v = sc.values[metric_name]
    others = sc.num - wc
    need = (line * sc.den - others) / weight  # the dimension's score that brings the composite to the line
    if need > scale.hi + 1e-6:
        return None
    need = min(need, scale.hi)
    x = scale.first_x_down_reaching(v, need) if metric.lower_is_better else scale.first_x_reaching(v, need, True)
    if x is None:
        return None
    if metric.step is not None:  # a count or money: whole steps (a cent), the least that reaches
        k = max(1, math.ceil((x - v) / metric.step - 1e-6))
        for _ in range(3):
            if sc.reaches(line, {metric_name: v + k * metric.step}):
                return metric.hint_code(v, v + k * metric.step)
            k += 1
        return None
    target = metric.reaching(x)  # shown rounded the way that still reaches
    if not sc.reaches(line, {metric_name: target}):
        return None
    return metric.hint_code(v, target)


def _least(reaches: Callable[[int], bool]) -> int | None:
    """The least ``n >= 1`` with ``reaches(n)`` (monotone), ``None`` when even a great many do not."""
    if not reaches(_MAX_MORE):
        return None
    hi = 1
    while not reaches(hi):
        hi *= 2
    lo = hi // 2  # reaches(lo) is false, or lo is 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _combined(sc: _Scorer, metrics: Metrics, kind: str, line: float) -> Code | None:
    """More of the entity's average business at once, when no single metric reaches ``line``.

    A customer: ``n`` more orders of its average amount and margin move order
    count, revenue and gross profit together, and recency as of the last of
    them (an order is placed when it is placed: its recency is 0). A supplier: ``n`` more deliveries
    of its average size, on time, complete and all accepted, move the on-time,
    fill, accuracy and quality rates together (``(x k + n) / (k + n)`` over ``k``
    deliveries; the fill rate ``f (k + n) / (k + f n)``, the delivery accuracy
    ``1 - (1 - a) k / (k + f n)``: no quantity off, more ordered). The other
    dimensions stay as they are.
    """
    if kind == "customer":
        k, revenue = metrics.get("order_count"), metrics.get("revenue")
        if k is None or k < 1 or revenue is None or revenue <= 0:
            return None
        n = _least(lambda n: sc.reaches(line, _more_orders(metrics, k, revenue, n)))
        if n is None:
            return None
        return code("hint.more_orders", n=n, average=revenue / k)
    d, q, r = metrics.get("deliveries"), metrics.get("quality_pass_rate"), metrics.get("on_time_rate")
    if d is None or d < 1 or q is None or r is None:
        return None
    n = _least(lambda n: sc.reaches(line, _more_deliveries(metrics, d, q, r, n)))
    if n is None:
        return None
    return code("hint.more_deliveries", n=n)


def _more_orders(metrics: Metrics, k: float, revenue: float, n: int) -> dict[str, float]:
    """The customer's metrics after ``n`` more orders of its average amount and margin, the last one today."""
    out = {"order_count": k + n, "revenue": revenue + n * revenue / k, "recency_days": 0.0}
    profit = metrics.get("gross_profit")
    if profit is not None:
        out["gross_profit"] = profit + n * profit / k
    return out


def _more_deliveries(metrics: Metrics, k: float, q: float, r: float, n: int) -> dict[str, float]:
    """The supplier's rates after ``n`` more perfect deliveries of its average size."""
    out = {"quality_pass_rate": (q * k + n) / (k + n), "on_time_rate": (r * k + n) / (k + n)}
    f = metrics.get("fill_rate")
    if f is not None and f > 0:
        out["fill_rate"] = f * (k + n) / (k + f * n)
        a = metrics.get("delivery_accuracy")
        if a is not None:
            out["delivery_accuracy"] = 1 - (1 - a) * k / (k + f * n)
    return out


def _hints(sc: _Scorer, metrics: Metrics, kind: str, line: float) -> list[Code]:
    """What brings the score to ``line``: the single moves (heaviest dimensions first), else a combined one."""
    found: list[tuple[float, Code]] = []
    for metric, weight, scale, wc in sc.dims:
        hint = _single(sc, metric, weight, scale, wc, line)
        if hint:
            found.append((weight, hint))
    found.sort(key=lambda h: -h[0])  # stable: ties keep the rules' order
    if found:
        return [code("hint.any", options=[h for _, h in found[:3]])]
    combined = _combined(sc, metrics, kind, line)
    return [combined] if combined else []


def next_tier(
    rules: EntityRules, tiers: list[Tier], tier: str, comp: Composite, metrics: Metrics,
    scales: Scales | None = None, held: bool = False, language: str = "en",
) -> NextTier | None:
    """The next tier up and what would reach it, hints in words of ``language`` (:func:`next_tier_with_codes`)."""
    return next_tier_with_codes(rules, tiers, tier, comp, metrics, scales, held, language)[0]


def next_tier_with_codes(
    rules: EntityRules, tiers: list[Tier], tier: str, comp: Composite, metrics: Metrics,
    scales: Scales | None = None, held: bool = False, language: str = "en",
) -> tuple[NextTier | None, NextTierCodes | None]:
    """The next tier up and what would reach it; with ``held``, also what gets back above the tier's own minimum.

    ``held``: the tier is kept only by hysteresis (its score is under its
    minimum, see :func:`held_by_hysteresis`). At the best tier there is no tier
    up: the answer is then ``None``, or, when held, the best tier itself with
    the gap and hints to get back above its minimum. A newcomer graded on a
    prospect score gets no hints: its own figures do not set its score.
    ``scales``: the dimensions' scales compiled (the engine passes its own).
    The hints are in words of ``language``, and, second, as messages.
    """
    names = [t.name for t in tiers]
    i = names.index(tier) if tier in names else len(tiers) - 1
    if i == 0 and not held:
        return None, None
    kind = "customer" if isinstance(rules, CustomerRules) else "supplier"
    sc = _Scorer(rules, scales, metrics)
    hinted = comp.weight_total > 0 and "prospect" not in comp.components
    keep_gap: float | None = None
    keep: list[Code] = []
    if held:
        line = tiers[i].min_score
        keep_gap = max(round(line - comp.score, 2), 0.0)
        keep = _hints(sc, metrics, kind, line) if hinted and keep_gap > 0 else []
    keep_hints = render_all(keep, language)
    if i == 0:
        assert keep_gap is not None
        return (NextTier.model_construct(tier=tiers[0].name, score_gap=keep_gap, hints=keep_hints,
                                         keep_gap=keep_gap, keep_hints=keep_hints),
                NextTierCodes.model_construct(hints=keep, keep_hints=keep))
    target = tiers[i - 1]
    gap = max(round(target.min_score - comp.score, 2), 0.0)
    hints = _hints(sc, metrics, kind, target.min_score) if hinted and gap > 0 else []
    return (NextTier.model_construct(tier=target.name, score_gap=gap, hints=render_all(hints, language),
                                     keep_gap=keep_gap, keep_hints=keep_hints),
            NextTierCodes.model_construct(hints=hints, keep_hints=keep))
