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

from tierstream.schemas.outputs import Direction, NextTier
from tierstream.schemas.rules import CustomerRules, EntityRules, SupplierRules, Tier
from tierstream.scorers.assessed import assessed_words
from tierstream.scorers.calendar import Calendar
from tierstream.scorers.catalog import METRICS, metric_key
from tierstream.scorers.grading import Composite
from tierstream.scorers.layout import DAY
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.outcome import Grade, iso_day
from tierstream.scorers.scale import Scale
from tierstream.scorers.state import EntityState, Manual

__all__ = ["change_reasons", "held_by_hysteresis", "next_tier", "reasons"]

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
    calendar: Calendar | None = None,
) -> list[str]:
    """Why the published tier moves to ``g.tier`` at ``now``: the cause first, then what moved.

    ``state`` is the entity before the change is published (its published tier
    and components are the previous ones); the grade's own notes (hysteresis)
    come last. ``calendar``: the rules' time zone, whose dates the head shows
    (an override's or assessment's end; ``None``: UTC).
    """
    head = _head(rules, tiers, state, now, direction, g, calendar)
    if direction == "ungraded":
        return [head, *g.notes]  # no score: no dimension moved it
    assessed = rules.assessed()
    words = assessed_words(state, assessed, now, lambda t: _date(t, calendar)) if assessed else None
    return [head, *reasons(rules, state.published_components, g.comp, g.metrics, assessed=words), *g.notes]


def _head(rules: EntityRules, tiers: list[Tier], state: EntityState, now: int, direction: Direction,
          g: Grade, calendar: Calendar | None) -> str:
    comp, new, old = g.comp, g.tier, state.published_tier
    if direction == "ungraded":
        return f"ungraded: {g.ungraded}"
    ov, p = state.override, state.prospect
    if ov is not None and _active(ov, now):
        return f"manual override by {ov.author}: {ov.reason} (until {_date(ov.expires, calendar)})"
    if p is not None and "prospect" in comp.components:
        return (f"prospect assessment by {p.author}: {p.reason} "
                f"(newcomer graded on the prospect score {float(p.value):g}, {new})")
    if direction == "initial":
        by_score = (f"{'enough evidence to grade' if old else 'first grading'}: "
                    f"score {comp.score:.1f} places it in {new}")
    elif direction == "upgrade":
        line = tiers[g.tier_idx].min_score
        by_score = f"score {_score_vs(comp.score, line)} reached {new} (minimum {line:g})"
    else:
        was = next((t for t in tiers if t.name == old), None)
        by_score = (f"score {comp.score:.1f} fell below what {old} requires" if was is None else
                    f"score {_score_vs(comp.score, was.min_score)} fell below what {old} requires "
                    f"(minimum {was.min_score:g})")
    if ov is not None and old == str(ov.value) and ov.expires <= now < ov.expires + DAY:
        return f"manual override by {ov.author} ended {_date(ov.expires, calendar)}: {by_score}"
    if p is not None and "prospect" in state.published_components:
        if p.expires <= now:
            why = f"ended {_date(p.expires, calendar)}"
        elif isinstance(rules, CustomerRules):
            most = rules.prospect.newcomer_max_orders
            why = f"no longer applies: more than {most} order{'s' if most != 1 else ''}"
        else:
            most = cast(SupplierRules, rules).prospect.newcomer_max_deliveries
            why = f"no longer applies: more than {most} deliver{'ies' if most != 1 else 'y'} in the window"
        return f"prospect assessment by {p.author} {why}: {by_score}"
    return by_score


def _score_vs(score: float, line: float) -> str:
    """The score with one decimal, two when one would put it on the other side of ``line`` (39.99, not 40.0)."""
    shown = f"{score:.1f}"
    return shown if (float(shown) >= line) == (score >= line) else f"{score:.2f}"


def _shown(before: float, after: float) -> tuple[str, str]:
    """Both scores with the fewest decimals that tell them apart (components carry two): 100 and 99.5."""
    nd = next((nd for nd in (0, 1) if f"{before:.{nd}f}" != f"{after:.{nd}f}"), 2)
    return _trim(f"{before:.{nd}f}"), _trim(f"{after:.{nd}f}")


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


_NO_POINTS = 0.005  # a share under this shows as 0 points (two decimals at most): it is not listed


def _points(x: float) -> str:
    """A share of the score's move in points: one decimal, two when that shows nothing, 0 for nothing."""
    if abs(x) < _NO_POINTS:
        return "0"
    return f"{x:+.1f}" if abs(x) >= 0.05 else f"{x:+.2f}"


def reasons(
    rules: EntityRules,
    previous: dict[str, float],
    comp: Composite,
    metrics: Metrics,
    limit: int = 3,
    assessed: dict[str, str] | None = None,
) -> list[str]:
    """The dimensions that moved, ranked by their share of the score's move, each with its metric value.

    The share of a dimension is its weight, as rescaled over the dimensions with
    evidence now, times its move; a dimension that gains or loses evidence moves
    from (or to) the previous score, since that is what adding it to (removing it
    from) a weighted mean does. The shares add up to the move of the score, to
    the rounding of the components. A dimension whose share is 0 points to the
    precision shown (its score did not move, or it gained or lost evidence at the
    previous score) is not listed. Ranked first, worded after: only the ``limit``
    shown are formatted. ``assessed``: what each qualitative dimension rests on, in
    words (``scorers.assessed.assessed_words``).
    """
    dims = rules.dimensions
    w_before = sum(d.weight for n, d in dims.items() if n in previous)
    s_before = sum(d.weight * previous[n] for n, d in dims.items() if n in previous) / w_before if w_before else 0.0
    w_after = comp.weight_total or w_before
    moves: list[tuple[float, str, float | None, float | None]] = []
    for name, dim in dims.items():
        before = previous.get(name)
        after = comp.components.get(name)
        if before == after or not w_after:
            continue
        share = dim.weight / w_after * ((after if after is not None else s_before)
                                        - (before if before is not None else s_before))
        if abs(share) < _NO_POINTS:
            continue  # it did not move the score, to the precision shown
        moves.append((share, name, before, after))
    moves.sort(key=lambda m: -abs(m[0]))  # stable: ties keep the rules' order
    out: list[str] = []
    for share, name, before, after in moves[:limit]:
        dim = dims[name]
        label = dim.label or name
        what = dim.metric.replace("_", " ")
        pts = _points(share)
        said = assessed.get(name) if assessed else None
        if said is not None:  # a qualitative dimension: who assessed it, or its assessments' end
            if after is None:
                out.append(f"{label} {said}, left out: {pts} points")
            elif before is None:
                out.append(f"{label} now scored {after:.0f} ({said}): {pts} points")
            else:
                b, a = _shown(before, after)
                out.append(f"{label} {'up' if after > before else 'down'} from {b} to {a} ({said}): {pts} points")
        elif before is None:
            value = METRICS[dim.metric].show(metrics.get(dim.metric))
            out.append(f"{label} now scored {after or 0.0:.0f} ({what} {value}): {pts} points")
        elif after is None:
            out.append(f"{label} no longer scored (no {what} in the window): {pts} points")
        else:
            value = METRICS[dim.metric].show(metrics.get(dim.metric))
            way = "up" if after > before else "down"
            b, a = _shown(before, after)
            out.append(f"{label} {way} from {b} to {a} ({what} {value}): {pts} points")
    return out


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


def _single(sc: _Scorer, metric_name: str, weight: float, scale: Scale, wc: float, line: float) -> str | None:
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
                return metric.hint_to(v, v + k * metric.step)
            k += 1
        return None
    target = metric.reaching(x)  # shown rounded the way that still reaches
    if not sc.reaches(line, {metric_name: target}):
        return None
    return metric.hint_to(v, target)


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


def _combined(sc: _Scorer, metrics: Metrics, kind: str, line: float) -> str | None:
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
        return f"{n} more order{'s' if n != 1 else ''} of your average size ({revenue / k:,.2f}) in the window"
    d, q, r = metrics.get("deliveries"), metrics.get("quality_pass_rate"), metrics.get("on_time_rate")
    if d is None or d < 1 or q is None or r is None:
        return None
    n = _least(lambda n: sc.reaches(line, _more_deliveries(metrics, d, q, r, n)))
    if n is None:
        return None
    return (f"{n} more deliver{'ies' if n != 1 else 'y'} of your average size, "
            "on time, complete and all accepted")


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


def _hints(sc: _Scorer, metrics: Metrics, kind: str, line: float) -> list[str]:
    """What brings the score to ``line``: the single moves (heaviest dimensions first), else a combined one."""
    found: list[tuple[float, str]] = []
    for metric, weight, scale, wc in sc.dims:
        text = _single(sc, metric, weight, scale, wc, line)
        if text:
            found.append((weight, text))
    found.sort(key=lambda h: -h[0])  # stable: ties keep the rules' order
    if found:
        return [" or ".join(h for _, h in found[:3])]
    combined = _combined(sc, metrics, kind, line)
    return [combined] if combined else []


def next_tier(
    rules: EntityRules, tiers: list[Tier], tier: str, comp: Composite, metrics: Metrics,
    scales: Scales | None = None, held: bool = False,
) -> NextTier | None:
    """The next tier up and what would reach it; with ``held``, also what gets back above the tier's own minimum.

    ``held``: the tier is kept only by hysteresis (its score is under its
    minimum, see :func:`held_by_hysteresis`). At the best tier there is no tier
    up: the answer is then ``None``, or, when held, the best tier itself with
    the gap and hints to get back above its minimum. A newcomer graded on a
    prospect score gets no hints: its own figures do not set its score.
    ``scales``: the dimensions' scales compiled (the engine passes its own).
    """
    names = [t.name for t in tiers]
    i = names.index(tier) if tier in names else len(tiers) - 1
    if i == 0 and not held:
        return None
    kind = "customer" if isinstance(rules, CustomerRules) else "supplier"
    sc = _Scorer(rules, scales, metrics)
    hinted = comp.weight_total > 0 and "prospect" not in comp.components
    keep_gap: float | None = None
    keep_hints: list[str] = []
    if held:
        line = tiers[i].min_score
        keep_gap = max(round(line - comp.score, 2), 0.0)
        keep_hints = _hints(sc, metrics, kind, line) if hinted and keep_gap > 0 else []
    if i == 0:
        assert keep_gap is not None
        return NextTier.model_construct(tier=tiers[0].name, score_gap=keep_gap, hints=keep_hints,
                                        keep_gap=keep_gap, keep_hints=keep_hints)
    target = tiers[i - 1]
    gap = max(round(target.min_score - comp.score, 2), 0.0)
    return NextTier.model_construct(
        tier=target.name,
        score_gap=gap,
        hints=_hints(sc, metrics, kind, target.min_score) if hinted and gap > 0 else [],
        keep_gap=keep_gap,
        keep_hints=keep_hints,
    )
