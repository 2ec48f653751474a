"""Qualitative dimensions: what people assess (market reputation, peer evaluation, an audit...).

A rules dimension with ``metric: assessed`` is scored by assessments naming it
(``AssessmentEvent.dimension`` with a ``score`` 0..100). Each author's
assessments of a dimension are kept in ``(occurred_at, event_id)`` order
(``EntityState.assessed``): at an instant ``t`` the author's assessment is the
latest one with ``occurred_at <= t``, and it is in force while ``t <
expires_at``. The dimension's metric at ``t`` is the mean of the scores in
force, one per author; with none in force it has no evidence and is left out
like any dimension without evidence. So a re-assessment replaces the author's
previous one from its own ``occurred_at`` (the days before it keep the earlier
one: hysteresis looks back at them), an expiry ends the author's say, and the
result is the same in any arrival order. An assessment superseded before the
retention start is forgotten: no grade looks back that far.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tierstream.scorers.catalog import ASSESSED, metric_key
from tierstream.scorers.messages import Code, code, render
from tierstream.scorers.state import EntityState, Manual

__all__ = [
    "assessed_codes",
    "assessed_metrics",
    "assessed_words",
    "assessment_days",
    "assessments_of",
    "changes_between",
    "in_force",
    "next_expiry",
    "prune",
    "record",
]


def _order(m: Manual) -> tuple[int, str]:
    return m.at, m.event_id


def record(state: EntityState, dimension: str, m: Manual) -> None:
    """Keep assessment ``m`` of ``dimension`` among its author's, in ``(at, event_id)`` order."""
    entries = state.assessed.setdefault((dimension, m.author), [])
    entries.append(m)
    entries.sort(key=_order)


def prune(state: EntityState, before: int) -> None:
    """Forget the assessments superseded at or before instant ``before``: no grade looks back to them.

    ``before``: the start of the retention. Called as the retention start moves and as an
    assessment comes in, so what is kept depends on the set of assessments and the clock only.
    """
    for entries in state.assessed.values():
        k = 0
        while k + 1 < len(entries) and entries[k + 1].at <= before:
            k += 1
        if k:
            del entries[:k]


def in_force(state: EntityState, t: int) -> dict[str, list[Manual]]:
    """The assessments in force at ``t``, per dimension, one per author."""
    out: dict[str, list[Manual]] = {}
    for (dimension, _), entries in state.assessed.items():
        for m in reversed(entries):
            if m.at <= t:
                if t < m.expires:
                    out.setdefault(dimension, []).append(m)
                break
    return out


def _mean(ms: list[Manual]) -> float:
    """The mean score (``fsum``: exact, so the same whatever order the authors come in)."""
    return math.fsum(float(m.value) for m in ms) / len(ms)


def assessed_metrics(metrics: dict[str, float | None], state: EntityState, t: int, dimensions: tuple[str, ...]
                     ) -> None:
    """Set the metric of each qualitative dimension at ``t``: the mean in force, ``None`` without one."""
    for name in dimensions:
        metrics[metric_key(name, ASSESSED)] = None
    if state.assessed:
        for name, ms in in_force(state, t).items():
            if name in dimensions:
                metrics[metric_key(name, ASSESSED)] = _mean(ms)


def next_expiry(state: EntityState, now: int) -> int | None:
    """The next instant after ``now`` an assessment in force expires (``None``: none in force)."""
    nxt: int | None = None
    for entries in state.assessed.values():
        e = entries[-1].expires  # every assessment started by the clock: the latest is the one in force
        if e > now and (nxt is None or e < nxt):
            nxt = e
    return nxt


def assessment_days(state: EntityState, day_of: Callable[[int], int]) -> set[int]:
    """The days an assessment starts or expires on: the end-of-day scores may move on them."""
    return {day_of(t) for entries in state.assessed.values() for m in entries for t in (m.at, m.expires)}


def changes_between(state: EntityState, a: int, b: int) -> bool:
    """Whether an assessment starts or expires in ``(a, b]``."""
    return any(a < m.at <= b or a < m.expires <= b for entries in state.assessed.values() for m in entries)


def assessments_of(state: EntityState, dimensions: tuple[str, ...], now: int) -> dict[str, Any]:
    """Each qualitative dimension's mean score in force and its number of evaluators (``None``: none)."""
    force = in_force(state, now) if state.assessed else {}
    out: dict[str, Any] = {}
    for name in dimensions:
        ms = force.get(name)
        out[name] = {"score": round(_mean(ms), 2), "evaluators": len(ms)} if ms else None
    return out


def assessed_words(state: EntityState, dimensions: list[str], now: int, date: Callable[[int], str]
                   ) -> dict[str, str]:
    """What each qualitative dimension rests on at ``now``, in words, for explanations.

    ``"assessed 80 by li.wei"``, ``"assessed 70, mean of 2 evaluators"``, or, with none in
    force, ``"assessment expired on 2026-05-01"`` (the last author's say that ended).
    """
    return {name: render(said) for name, said in assessed_codes(state, dimensions, now, date).items()}


def assessed_codes(state: EntityState, dimensions: list[str], now: int, date: Callable[[int], str]
                   ) -> dict[str, Code]:
    """What each qualitative dimension rests on at ``now``, as messages (see :func:`assessed_words`)."""
    force = in_force(state, now) if state.assessed else {}
    out: dict[str, Code] = {}
    for name in dimensions:
        ms = force.get(name)
        if ms:
            score = round(_mean(ms), 2)
            out[name] = (code("assessed.by", score=score, author=ms[0].author) if len(ms) == 1
                         else code("assessed.mean", score=score, evaluators=len(ms)))
            continue
        ended = [es[-1].expires for (d, _), es in state.assessed.items() if d == name and es[-1].expires <= now]
        out[name] = code("assessed.expired", date=date(max(ended))) if ended else code("assessed.none")
    return out
