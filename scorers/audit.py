"""The audit trail's pure part: whether the rules take an override, and the record of an assessment.

The grader refuses an override naming a tier the entity's rules do not have
(:func:`override_refusal`, the one check, used by :class:`~scorers.engine.Grader`);
the worker records every assessment it receives, with what became of it
(:func:`audit_of`), for ``GET /audit/{type}/{id}``; the offline scorer writes the
same records (``tierstream score --audit``).
"""

from __future__ import annotations

from collections.abc import Sequence

from tierstream.schemas.events import AnyEvent, AssessmentEvent
from tierstream.schemas.outputs import AssessmentKind, AuditEntry
from tierstream.schemas.rules import Tier
from tierstream.scorers.outcome import Outcome

__all__ = ["ACCEPTED", "assessment_kind", "audit_entry", "audit_of", "override_refusal", "refused"]

#: The status of an assessment the grader took into the entity's state.
ACCEPTED = "accepted"


def override_refusal(tiers: Sequence[Tier], entity_type: str, tier: str) -> str | None:
    """Return why an override naming ``tier`` is refused under ``tiers``, or ``None`` when they have it."""
    names = [t.name for t in tiers]
    if tier in names:
        return None
    return f"tier_override {tier!r} is not a {entity_type} tier ({', '.join(names)})"


def refused(why: str) -> str:
    """Return the status of an assessment the grader refused, saying why."""
    return f"refused: {why}"


def assessment_kind(event: AssessmentEvent) -> AssessmentKind:
    """Return what an assessment judges (a new kind of judgement adds its name here)."""
    if event.dimension is not None:
        return "dimension"
    return "prospect_score" if event.prospect_score is not None else "tier_override"


def audit_entry(event: AssessmentEvent, status: str) -> AuditEntry:
    """Return the audit record of ``event`` with its ``status`` (``accepted`` or ``refused: ...``)."""
    value: float | str
    if event.score is not None:
        value = event.score
    elif event.prospect_score is not None:
        value = event.prospect_score
    else:
        value = str(event.tier_override)
    return AuditEntry(
        event_id=event.event_id, entity_type=event.entity_type, entity_id=event.entity_id,
        kind=assessment_kind(event), value=value, dimension=event.dimension, author=event.author, reason=event.reason,
        occurred_at=event.occurred_at, expires_at=event.expires_at, status=status,
    )


def audit_of(event: AnyEvent, out: Outcome) -> AuditEntry | None:
    """Return the audit record of a manual assessment with what grading it did (``out``).

    ``None`` for any other event, and for a duplicate (the first copy has its record).
    Taken into the state (``applied``, or ``history``: before the window) it is
    ``accepted``; anything else (invalid, too old, too new) is refused, saying why.
    """
    if not isinstance(event, AssessmentEvent) or out.status == "duplicate":
        return None
    status = ACCEPTED if out.status in ("applied", "history") else refused(out.detail or out.status)
    return audit_entry(event, status)
