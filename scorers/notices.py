"""Early warnings: a tier at risk, a supplier on watch, a customer approaching a tier, an assessment expiring.

Each kind of notice has a *condition* read off a grade (:func:`raise_notices`),
evaluated wherever a tier change can be (after an event, at a review), so the
stream and the offline scorer send the same notices at the same instants. A
notice is sent when its condition starts and not again while it holds: the
state remembers what each slot announced (``EntityState.announced``). An
``approaching`` notice also waits out a cool-down after the last one. Ids are
``tn:<entity_type>:<entity_id>:<kind>:<n>``, the entity's n-th notice of that
kind.

* **at_risk**: the tier is kept only by hysteresis (its score is under the
  tier's minimum, no override sets it). ``refers_to``: the day the hold lapses
  if the score stays where it is (:func:`lapse_day`); ``hints``: what gets the
  score back to the minimum.
* **supplier_watch**: the same for a supplier, for procurement: its score
  alone places it in a worse tier (``target_tier``) than the one hysteresis
  keeps; a further fall while held is a new watch.
* **approaching**: a customer's score is within ``approaching_gap`` points
  under the next tier's minimum (graded on its own figures: no override, no
  prospect score, not held).
* **assessment_expiring**: an override, or the prospect score a newcomer is
  graded on, expires within ``assessment_expiring_days`` (the reviews include
  that instant: :func:`expiring_from`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tierstream.schemas.events import EntityType
from tierstream.schemas.notices import NoticeKind
from tierstream.schemas.outputs import UNGRADED, NoticeInForce, TierNotice
from tierstream.schemas.rules import Hysteresis, Tier
from tierstream.scorers.explain import held_by_hysteresis, next_tier_with_codes
from tierstream.scorers.grading import Track, raw_tier_index
from tierstream.scorers.layout import DAY
from tierstream.scorers.messages import Code, code, render, render_all
from tierstream.scorers.outcome import Grade, iso_day, utc
from tierstream.scorers.state import EntityState, Manual
from tierstream.scorers.terms import tier_term

if TYPE_CHECKING:
    from tierstream.scorers.tiering import Tiering

__all__ = ["expiring_from", "in_force", "lapse_day", "raise_notices", "watch_of"]

#: The slots of ``EntityState.announced`` that hold an assessment expiring, and the assessment each watches.
_ASSESSMENT_SLOTS = ("override", "prospect")


def lapse_day(hyst: Hysteresis, tier: Tier, score: float, track: Track) -> int | None:
    """The first day a hold of ``tier`` no longer keeps it, if the score stays at ``score``.

    With q the last day the tier was reached and h the last day on its hold line
    (``track``): kept until q + ``min_days_in_tier``, and while not broken until
    q + ``hold_days`` on the hold line, or h + ``grace_days`` under it.
    """
    q: int | None = track[1]
    h: int | None = track[2]
    if q is None:
        return None
    end = q + hyst.min_days_in_tier
    broken = track[3]
    if broken or h is None:
        return end
    if score >= tier.min_score - hyst.downgrade_margin:
        return max(end, q + hyst.hold_days)
    return max(end, min(q + hyst.hold_days, h + hyst.grace_days))


def expiring_from(manual: Manual, days: int) -> int:
    """The instant an assessment starts to be announced as expiring: ``days`` before it expires."""
    return manual.expires - days * DAY


def _slot(state: EntityState, slot: str, key: str | None) -> bool:
    """Note the condition of ``slot`` (``None``: it does not hold); tell whether it is new."""
    if key is None:
        state.announced.pop(slot, None)
        return False
    if state.announced.get(slot) == key:
        return False
    state.announced[slot] = key
    return True


class _Notices:
    """The notices of one grade of one entity, built in the order of :data:`NOTICE_KINDS`."""

    def __init__(self, tg: Tiering, state: EntityState, g: Grade, now: int, cause: str) -> None:
        self.tg, self.state, self.g, self.now, self.cause = tg, state, g, now, cause
        self.out: list[TierNotice] = []

    def add(self, kind: NoticeKind, target: str | None, refers_to: int, gap: float | None, hints: list[Code],
            message: Code) -> None:
        """Add a notice of ``kind``: its hints and message as messages, worded in English beside them."""
        s, g = self.state, self.g
        n = s.notice_counts.get(kind, 0) + 1
        s.notice_counts[kind] = n
        self.out.append(TierNotice.model_construct(
            notice_id=f"tn:{s.kind}:{s.entity_id}:{kind}:{n}", kind=kind, entity_type=cast(EntityType, s.kind),
            entity_id=s.entity_id, tier=g.tier, score=g.comp.score, target_tier=target,
            refers_to=iso_day(refers_to), gap=gap, hints=render_all(hints), message=render(message),
            rules_version=self.tg.rules.version, occurred_at=utc(self.now), cause=self.cause,
            message_code=message, hint_codes=hints,
        ))


def raise_notices(tg: Tiering, state: EntityState, g: Grade, now: int, cause: str) -> list[TierNotice]:
    """The notices whose condition starts with grade ``g`` at ``now``; the state notes what it announced."""
    cfg = tg.rules.notices
    kinds = cfg.kinds
    if not kinds:
        return []
    tiers = tg.tiers_for(state)
    idx, score = g.tier_idx, g.comp.score
    held = idx >= 0 and held_by_hysteresis(state, tiers, idx, g.comp, now)
    if (not held and not state.announced and state.override is None and state.prospect is None
            and not (state.kind == "customer" and idx > 0 and tiers[idx - 1].min_score - score <= cfg.approaching_gap)):
        return []  # no condition holds, none did: the common case, decided cheaply
    b = _Notices(tg, state, g, now, cause)
    rules = tg.rules_for(state)
    risk = watch = None
    if held:
        t, raw = tiers[idx], tiers[raw_tier_index(tiers, score)]
        risk, watch = t.name, f"{t.name}>{raw.name}"
    risk_new = _slot(state, "at_risk", risk if "at_risk" in kinds else None)
    watch_new = _slot(state, "supplier_watch", watch if "supplier_watch" in kinds and state.kind == "supplier"
                      else None)
    if risk_new or watch_new:  # the watch slot's key is "<held tier>><raw tier>": see watch_of
        t, raw = tiers[idx], tiers[raw_tier_index(tiers, score)]
        lapse = lapse_day(rules.hysteresis, t, score, tg.hold_track(state, now, idx, score))
        when = tg.day(now) if lapse is None else lapse
        nt, codes = next_tier_with_codes(rules, tiers, t.name, g.comp, g.metrics, tg.scales_for(state), held=True)
        gap = None if nt is None else nt.keep_gap
        hints = [] if codes is None else codes.keep_hints
        held_tier, raw_tier = tier_term(tiers, t.name), tier_term(tiers, raw.name)
        if risk_new:
            b.add("at_risk", raw.name, when, gap, hints,
                  code("notice.at_risk", tier=held_tier, score=score, minimum=t.min_score, target=raw_tier,
                       date=iso_day(when)))
        if watch_new:
            b.add("supplier_watch", raw.name, when, gap, hints,
                  code("notice.supplier_watch", supplier=state.entity_id, score=score, tier=held_tier,
                       minimum=t.min_score, target=raw_tier, date=iso_day(when)))
    _approaching(b, cfg.approaching_gap, cfg.approaching_cooldown_days, held, "approaching" in kinds)
    if "assessment_expiring" in kinds:
        _expiring(b, cfg.assessment_expiring_days)
    return b.out


def _approaching(b: _Notices, most: float, cooldown: int, held: bool, wanted: bool) -> None:
    """A customer graded on its own figures within ``most`` points of the next tier, once per cool-down."""
    tg, state, g, now = b.tg, b.state, b.g, b.now
    tiers = tg.tiers_for(state)
    idx, comp = g.tier_idx, g.comp
    ov = state.override
    key: str | None = None
    if (wanted and state.kind == "customer" and idx > 0 and not held and "prospect" not in comp.components
            and not (ov is not None and ov.at <= now < ov.expires)):
        target = tiers[idx - 1]
        if 0 < target.min_score - comp.score <= most:
            key = target.name
    last = state.approached_at
    if (key is not None and state.announced.get("approaching") != key and last is not None
            and tg.day(now) - tg.day(last) < cooldown):
        return  # cooling down: announced later, at an event or review past it, if it still holds
    if not _slot(state, "approaching", key):
        return
    assert key is not None
    state.approached_at = now
    rules = tg.rules_for(state)
    nt, codes = next_tier_with_codes(rules, tiers, g.tier, comp, g.metrics, tg.scales_for(state))
    gap = None if nt is None else nt.score_gap
    b.add("approaching", key, tg.day(now), gap, [] if codes is None else codes.hints,
          code("notice.approaching", score=comp.score, gap=gap, target=tier_term(tiers, key),
               minimum=tiers[idx - 1].min_score))


def _expiring(b: _Notices, days: int) -> None:
    """An override, or the prospect score grading a newcomer, expiring within ``days`` days."""
    tg, state, g, now = b.tg, b.state, b.g, b.now
    tiers = tg.tiers_for(state)
    for slot, manual in (("override", state.override), ("prospect", state.prospect)):
        key: str | None = None
        if (manual is not None and manual.at <= now < manual.expires and expiring_from(manual, days) <= now
                and (slot == "override" or "prospect" in g.comp.components)):
            key = manual.event_id
        if not _slot(state, slot, key):
            continue
        assert manual is not None
        on = iso_day(tg.day(manual.expires))
        if slot == "override":
            missing = tg.missing_evidence_code(state, g.comp)
            raw = UNGRADED if missing else tiers[raw_tier_index(tiers, g.comp.score)].name
            after = (code("notice.without_override_ungraded", why=missing) if missing
                     else code("notice.without_override_tier", score=g.comp.score, tier=tier_term(tiers, raw)))
            b.add("assessment_expiring", raw, tg.day(manual.expires), None, [],
                  code("notice.override_expiring", tier=tier_term(tiers, str(manual.value)), author=manual.author,
                       date=on, then=after))
        else:
            b.add("assessment_expiring", None, tg.day(manual.expires), None, [],
                  code("notice.prospect_expiring", author=manual.author, score=float(manual.value), date=on))


def watch_of(state: EntityState) -> tuple[str, str] | None:
    """Return the held tier and the tier the score alone gives of the supplier_watch in force, if one is."""
    key = state.announced.get("supplier_watch")
    if key is None:
        return None
    held, _, raw = key.partition(">")
    return held, raw


def in_force(state: EntityState) -> list[NoticeInForce]:
    """Return the notices sent and still in force, as the state notes them (kind order, override first)."""
    out: list[NoticeInForce] = []
    announced = state.announced
    if (tier := announced.get("at_risk")) is not None:
        out.append(NoticeInForce.model_construct(kind="at_risk", tier=tier, target_tier=None, assessment_id=None,
                                                 expires_at=None))
    if (watch := watch_of(state)) is not None:
        out.append(NoticeInForce.model_construct(kind="supplier_watch", tier=watch[0], target_tier=watch[1],
                                                 assessment_id=None, expires_at=None))
    if (target := announced.get("approaching")) is not None:
        out.append(NoticeInForce.model_construct(kind="approaching", tier=None, target_tier=target,
                                                 assessment_id=None, expires_at=None))
    for slot in _ASSESSMENT_SLOTS:
        if (eid := announced.get(slot)) is None:
            continue
        manual: Manual | None = getattr(state, slot)
        expires = utc(manual.expires) if manual is not None and manual.event_id == eid else None
        out.append(NoticeInForce.model_construct(kind="assessment_expiring", tier=None, target_tier=None,
                                                 assessment_id=eid, expires_at=expires))
    return out
