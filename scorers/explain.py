"""Explanations in plain words: why a tier moved, and what it takes to reach the next one."""

from __future__ import annotations

from tierstream.schemas.outputs import NextTier
from tierstream.schemas.rules import EntityRules, Tier
from tierstream.scorers.catalog import METRICS
from tierstream.scorers.grading import Composite
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.scale import Scale, apply_scale

__all__ = ["next_tier", "reasons"]


def next_tier(
    rules: EntityRules, tiers: list[Tier], tier: str, comp: Composite, metrics: Metrics,
    scales: dict[str, Scale] | None = None,
) -> NextTier | None:
    """The next tier up and, per dimension, the metric move that alone would close the gap.

    ``scales``: the dimensions' scales compiled (the engine passes its own); the
    answer is the same, only found faster.
    """
    names = [t.name for t in tiers]
    i = names.index(tier) if tier in names else len(tiers) - 1
    if i == 0:
        return None
    target_tier = tiers[i - 1]
    gap = round(target_tier.min_score - comp.score, 2)
    hints: list[tuple[float, str]] = []
    if comp.weight_total > 0 and gap > 0:
        for name, dim in rules.dimensions.items():
            value = metrics.get(dim.metric)
            if value is None or name not in comp.components:
                continue
            current = apply_scale(dim.scale, value)
            needed = current + gap * comp.weight_total / dim.weight
            if needed > 100 + 1e-9:
                continue
            sc = scales[name] if scales is not None else Scale(dim.scale)
            metric = METRICS[dim.metric]
            if metric.lower_is_better:
                x = sc.first_x_down_reaching(value, needed)
            else:
                x = sc.first_x_reaching(value, needed, rising=True)
            if x is None:
                continue
            text = metric.hint_to(value, x)
            if text:
                hints.append((dim.weight, text))
    hints.sort(key=lambda h: -h[0])
    return NextTier.model_construct(
        tier=target_tier.name,
        score_gap=max(gap, 0.0),
        hints=[" or ".join(h for _, h in hints[:3])] if hints else [],
    )


def reasons(
    rules: EntityRules,
    previous: dict[str, float],
    comp: Composite,
    metrics: Metrics,
    limit: int = 3,
) -> list[str]:
    """The dimensions that moved most (by weighted effect), each with its metric value.

    Ranked first, worded after: only the ``limit`` that are shown are formatted.
    """
    moves: list[tuple[float, str, float | None, float | None]] = []
    for name, dim in rules.dimensions.items():
        before = previous.get(name)
        after = comp.components.get(name)
        if before != after:
            moves.append((abs((after or 0) - (before or 0)) * dim.weight, name, before, after))
    moves.sort(key=lambda m: -m[0])  # stable: ties keep the rules' order
    out: list[str] = []
    for _, name, before, after in moves[:limit]:
        dim = rules.dimensions[name]
        label = dim.label or name
        what = dim.metric.replace("_", " ")
        if before is None:
            value = METRICS[dim.metric].show(metrics.get(dim.metric))
            out.append(f"{label} now scored {after:.0f} ({what} {value})")
        elif after is None:
            out.append(f"{label} no longer scored (no {what} in the window)")
        else:
            value = METRICS[dim.metric].show(metrics.get(dim.metric))
            way = "up" if after > before else "down"
            out.append(f"{label} {way} from {before:.0f} to {after:.0f} ({what} {value})")
    return out
