"""The dimensions that moved a score, as messages: ranked by their share of the move, each with its metric."""

from __future__ import annotations

from tierstream.schemas.rules import EntityRules
from tierstream.scorers.catalog import METRICS
from tierstream.scorers.grading import Composite
from tierstream.scorers.messages import Code, code, render_all
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.terms import dimension_term

__all__ = ["reason_codes", "reasons"]

_NO_POINTS = 0.005  # a share under this shows as 0 points (two decimals at most): it is not listed


def _shown(before: float, after: float) -> tuple[str, str]:
    """Both scores with the fewest decimals that tell them apart (components carry two): 100 and 99.5."""
    nd = next((nd for nd in (0, 1) if f"{before:.{nd}f}" != f"{after:.{nd}f}"), 2)
    return _trim(f"{before:.{nd}f}"), _trim(f"{after:.{nd}f}")


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


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
    language: str = "en",
) -> list[str]:
    """The dimensions that moved, in words of ``language`` (see :func:`reason_codes`)."""
    said = {name: code("assessed.said", text=text) for name, text in assessed.items()} if assessed else None
    return render_all(reason_codes(rules, previous, comp, metrics, limit, said), language)


def reason_codes(
    rules: EntityRules,
    previous: dict[str, float],
    comp: Composite,
    metrics: Metrics,
    limit: int = 3,
    assessed: dict[str, Code] | None = None,
) -> list[Code]:
    """The dimensions that moved, ranked by their share of the score's move, each with its metric value.

    The share of a dimension is its weight, as rescaled over the dimensions with
    evidence now, times its move; a dimension that gains or loses evidence moves
    from (or to) the previous score, since that is what adding it to (removing it
    from) a weighted mean does. The shares add up to the move of the score, to
    the rounding of the components. A dimension whose share is 0 points to the
    precision shown (its score did not move, or it gained or lost evidence at the
    previous score) is not listed. Ranked first, worded after: only the ``limit``
    shown are built. ``assessed``: what each qualitative dimension rests on
    (``scorers.assessed.assessed_codes``).
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
    out: list[Code] = []
    for share, name, before, after in moves[:limit]:
        dim = dims[name]
        label = dimension_term(name, dim)
        pts = _points(share)
        said = assessed.get(name) if assessed else None
        if said is not None:  # a qualitative dimension: who assessed it, or its assessments' end
            if after is None:
                out.append(code("dimension.assessed_left_out", label=label, said=said, points=pts))
            elif before is None:
                out.append(code("dimension.assessed_now", label=label, score=after, said=said, points=pts))
            else:
                b, a = _shown(before, after)
                out.append(code("dimension.assessed_up" if after > before else "dimension.assessed_down",
                                label=label, before=b, after=a, said=said, points=pts))
            continue
        what = code(f"metric.{dim.metric}")
        if before is None:
            value = METRICS[dim.metric].show_code(metrics.get(dim.metric))
            out.append(code("dimension.now_scored", label=label, score=after or 0.0, metric=what, value=value,
                            points=pts))
        elif after is None:
            out.append(code("dimension.no_longer_scored", label=label, metric=what, points=pts))
        else:
            value = METRICS[dim.metric].show_code(metrics.get(dim.metric))
            b, a = _shown(before, after)
            out.append(code("dimension.up" if after > before else "dimension.down", label=label, before=b,
                            after=a, metric=what, value=value, points=pts))
    return out
