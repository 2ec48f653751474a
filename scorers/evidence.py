"""Minimum evidence: whether an entity is graded at all, and if not, why (``ungraded``).

Missing evidence is not bad evidence: a dimension without evidence is left
out of the composite (weights rescaled), and an entity with less evidence
than its rules' ``min_evidence`` gets no tier at all rather than the lowest
one. The reason is worded from the metric catalog (``Metric.absent``).
"""

from __future__ import annotations

from tierstream.schemas.outputs import UNGRADED
from tierstream.schemas.rules import EntityRules
from tierstream.scorers.catalog import ASSESSED, METRICS
from tierstream.scorers.messages import Code, code, render
from tierstream.scorers.terms import dimension_term

__all__ = ["UNGRADED", "UNGRADED_SCORE", "Evidence"]

#: The end-of-day score of a day the entity was ungraded: under every tier's minimum and hold
#: line (a minimum is at least 0, a margin at most 50), so hysteresis never holds a tier on it.
UNGRADED_SCORE = -100.0


def _absence(rules: EntityRules, name: str) -> Code:
    """Why dimension ``name`` has no evidence, as a message."""
    dim = rules.dimensions[name]
    if dim.metric == ASSESSED:
        return code("evidence.no_assessment", label=dimension_term(name, dim, name.replace("_", " ")))
    return METRICS[dim.metric].absence_code(rules.window_days)


class Evidence:
    """One entity type's ``min_evidence``, compiled for the hot path."""

    __slots__ = ("count", "requires")

    def __init__(self, rules: EntityRules) -> None:
        ev = rules.min_evidence
        self.count = ev.dimensions
        #: (dimension, why it has no evidence), in the order the rules list them
        self.requires = tuple((name, _absence(rules, name)) for name in ev.requires)

    def missing(self, components: dict[str, float]) -> str | None:
        """Why an entity whose dimensions with evidence are ``components`` is ungraded (``None``: it is not)."""
        why = self.missing_code(components)
        return None if why is None else render(why)

    def missing_code(self, components: dict[str, float]) -> Code | None:
        """Why an entity whose dimensions with evidence are ``components`` is ungraded, as a message."""
        why: list[Code] = []
        for name, absent in self.requires:
            if name not in components and absent not in why:
                why.append(absent)
        n = len(components)
        if n < self.count and not why:
            why.append(code("evidence.none") if n == 0 else code("evidence.some", n=n, count=self.count))
        return code("evidence.all", why=why) if why else None
