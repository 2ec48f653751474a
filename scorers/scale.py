"""Piecewise-linear scales from a raw metric to a 0..100 dimension score, and their inverse."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

__all__ = [
    "Points",
    "Scale",
    "apply_scale",
    "first_x_down_reaching",
    "first_x_reaching",
]

Points = Sequence[tuple[float, float]]


def apply_scale(points: Points, x: float) -> float:
    """Score of metric value ``x``: linear between points, flat beyond the ends."""
    x0, y0 = points[0]
    if x <= x0:
        return y0
    for x1, y1 in points[1:]:
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        x0, y0 = x1, y1
    return y0


class Scale:
    """A compiled scale: the same function as :func:`apply_scale`, with a bisect on the hot path."""

    __slots__ = ("at_knots", "hi", "lo", "points", "xs", "ys")

    def __init__(self, points: Points) -> None:
        self.points = [(float(x), float(y)) for x, y in points]
        self.xs = [x for x, _ in self.points]
        self.ys = [y for _, y in self.points]
        self.lo, self.hi = min(self.ys), max(self.ys)
        self.at_knots = [apply_scale(self.points, x) for x in self.xs]  # as apply_scale rounds them

    def __call__(self, x: float) -> float:
        xs = self.xs
        if x <= xs[0]:
            return self.ys[0]
        if x >= xs[-1]:
            return self.ys[-1]
        i = bisect_right(xs, x)
        x0, x1, y0 = xs[i - 1], xs[i], self.ys[i - 1]
        return y0 + (self.ys[i] - y0) * (x - x0) / (x1 - x0)


    def first_x_reaching(self, x_from: float, target: float, rising: bool) -> float | None:
        """:func:`first_x_reaching` over this scale's points, with the knots' scores precomputed.

        The same arithmetic, step for step, so the same result to the last bit.
        """
        points = self.points
        y_from = apply_scale(points, x_from)
        if (y_from >= target) if rising else (y_from < target):
            return x_from
        xs, ys, knots = self.xs, self.ys, self.at_knots
        for i in range(len(xs) - 1):
            xa, xb, yb = xs[i], xs[i + 1], ys[i + 1]
            if xb <= x_from:
                continue
            lo, ylo = (xa, knots[i]) if xa >= x_from else (x_from, y_from)
            hit_b = (yb >= target) if rising else (yb < target)
            if hit_b and yb != ylo:
                x = lo + (target - ylo) * (xb - lo) / (yb - ylo)
                x = min(max(x, lo), xb)
                y = apply_scale(points, x)
                if not ((y >= target) if rising else (y < target)):
                    x = math.nextafter(x, math.inf)
                return min(x, xb)
            if hit_b:
                return xb
        return None


    def first_x_down_reaching(self, x_from: float, target: float) -> float | None:
        """:func:`first_x_down_reaching` over this scale's points: the same arithmetic, step for step."""
        points = self.points
        y_from = apply_scale(points, x_from)
        if y_from >= target:
            return x_from
        xs, ys, knots = self.xs, self.ys, self.at_knots
        best: float | None = None
        for i in range(len(xs) - 1):
            xa, ya, xb = xs[i], ys[i], xs[i + 1]
            if xa >= x_from:
                break
            hi, yhi = (xb, knots[i + 1]) if xb <= x_from else (x_from, y_from)
            if ya >= target:
                if yhi != ya and yhi < target:
                    x = xa + (target - ya) * (hi - xa) / (yhi - ya)
                    best = max(min(x, hi), xa)
                else:
                    best = hi
        return best


def first_x_reaching(points: Points, x_from: float, target: float, rising: bool) -> float | None:
    """Smallest ``x >= x_from`` whose score is ``>= target`` (``rising``) or ``< target`` (falling).

    Used both for "what it would take" hints (how far a metric must move) and
    to schedule time-driven reviews (when an ageing metric drops a score below
    a line). ``None`` when the scale never gets there.
    """
    return Scale(points).first_x_reaching(x_from, target, rising)


def first_x_down_reaching(points: Points, x_from: float, target: float) -> float | None:
    """Largest ``x <= x_from`` whose score is ``>= target``: for metrics where lower is better."""
    return Scale(points).first_x_down_reaching(x_from, target)
