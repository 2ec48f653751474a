"""The compiled scale searches equal their first pairwise-walk versions, to the bit."""

from __future__ import annotations

import math
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from tierstream.scorers.scale import Points, Scale, apply_scale, first_x_down_reaching, first_x_reaching


def _reference_first_x_reaching(points: Points, x_from: float, target: float, rising: bool) -> float | None:
    """The search as first written (a pairwise walk): the oracle for the compiled one."""

    def hit(y: float) -> bool:
        return y >= target if rising else y < target

    if hit(apply_scale(points, x_from)):
        return x_from
    for (xa, _ya), (xb, yb) in pairwise(points):
        if xb <= x_from:
            continue
        lo = max(xa, x_from)
        ylo = apply_scale(points, lo)
        if hit(yb) and yb != ylo:
            # solve ylo + (yb - ylo) * (x - lo) / (xb - lo) == target
            x = lo + (target - ylo) * (xb - lo) / (yb - ylo)
            x = min(max(x, lo), xb)
            if not hit(apply_scale(points, x)):
                x = math.nextafter(x, math.inf)
            return min(x, xb)
        if hit(yb):
            return xb
    return None


def _reference_first_x_down_reaching(points: Points, x_from: float, target: float) -> float | None:
    """The downward search as first written: the oracle for the compiled one."""
    if apply_scale(points, x_from) >= target:
        return x_from
    best: float | None = None
    for (xa, ya), (xb, _yb) in pairwise(points):
        if xa >= x_from:
            break
        hi = min(xb, x_from)
        yhi = apply_scale(points, hi)
        if ya >= target:
            if yhi != ya and yhi < target:
                x = xa + (target - ya) * (hi - xa) / (yhi - ya)
                best = max(min(x, hi), xa)
            else:
                best = hi
    return best


@given(
    points=st.lists(st.tuples(st.floats(-100, 1000), st.floats(0, 100)), min_size=2, max_size=6,
                    unique_by=lambda p: p[0]),
    x_from=st.floats(-200, 1200),
    target=st.floats(-10, 110),
    rising=st.booleans(),
)
def test_scale_searches_are_the_functions_to_the_bit(
    points: list[tuple[float, float]], x_from: float, target: float, rising: bool
) -> None:
    """The compiled scale's searches (review timer, next-tier hints) equal the plain functions exactly."""
    pts = sorted(points)
    expected = _reference_first_x_reaching(pts, x_from, target, rising)
    assert Scale(pts).first_x_reaching(x_from, target, rising) == expected
    assert first_x_reaching(pts, x_from, target, rising) == expected
    expected_down = _reference_first_x_down_reaching(pts, x_from, target)
    assert Scale(pts).first_x_down_reaching(x_from, target) == expected_down
    assert first_x_down_reaching(pts, x_from, target) == expected_down
