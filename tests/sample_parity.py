"""Helpers of the stream = offline parity on tier *changes* (tests/test_pipeline.py).

What the offline scorer writes for a file (changes, notices, case events), each entity's
in the order the stream must publish them, and what a sample holds (:func:`features`).
The file is published through :func:`tests.pacing.paced`, which says why each entity's
sequence can then be compared exactly.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path

import orjson
from pydantic import ValidationError

from tierstream.schemas.events import (
    INBOUND_ADAPTER,
    AssessmentEvent,
    DeliveryEvent,
    InvoiceEvent,
    OrderEvent,
    PaymentEvent,
    ProfileEvent,
    ReferralEvent,
    ServiceEvent,
)
from tierstream.schemas.outputs import SupplierCase, TierChange, TierNotice
from tierstream.schemas.rules import load_rules
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

__all__ = ["Change", "Notice", "cases_per_supplier", "features", "notices_per_entity", "offline_cases",
           "offline_changes", "offline_notices", "per_entity"]

Key = tuple[str, str]
#: seq, previous tier, tier, cause, occurred_at (UTC), then what the change shows with the tier (issue 12,
#: points 5 and 6): segment, loyalty, group, profile (JSON, keys sorted)
Change = tuple[int, str | None, str, str, str, str | None, str | None, str | None, str]
Notice = tuple[str, str, str | None, str, str]  # notice_id, tier, target tier, refers_to, occurred_at (UTC)


def per_entity(changes: Iterable[TierChange]) -> dict[Key, list[Change]]:
    """Each entity's changes, deduplicated by change_id, in ``seq`` order."""
    unique = {c.change_id: c for c in changes}
    out: dict[Key, list[Change]] = {}
    for c in unique.values():
        seq = int(c.change_id.rsplit(":", 1)[1])
        out.setdefault((c.entity_type, c.entity_id), []).append(
            (seq, c.previous_tier, c.tier, c.cause, c.occurred_at.astimezone(UTC).isoformat(),
             c.segment, c.loyalty, c.group, orjson.dumps(c.profile, option=orjson.OPT_SORT_KEYS).decode()))
    return {k: sorted(v) for k, v in out.items()}


def offline_changes(path: Path) -> tuple[list[TierChange], dict[Key, list[Change]]]:
    """What ``tierstream score --changes`` writes for ``path``: in file order, and per entity."""
    buf = io.BytesIO()
    run(OfflineScorer(load_rules()), read_lines(path), changes_out=buf)
    changes = [TierChange.model_validate_json(line) for line in buf.getvalue().splitlines()]
    return changes, per_entity(changes)


def notices_per_entity(notices: Iterable[TierNotice]) -> dict[Key, list[Notice]]:
    """Each entity's notices in the order they were sent, each id once (its first copy)."""
    out: dict[Key, list[Notice]] = {}
    seen: set[str] = set()
    for n in notices:
        if n.notice_id in seen:
            continue
        seen.add(n.notice_id)
        out.setdefault((n.entity_type, n.entity_id), []).append(
            (n.notice_id, n.tier, n.target_tier, n.refers_to, n.occurred_at.astimezone(UTC).isoformat()))
    return out


def offline_notices(path: Path) -> list[TierNotice]:
    """What ``tierstream score --notices`` writes for ``path``, in that order."""
    buf = io.BytesIO()
    run(OfflineScorer(load_rules()), read_lines(path), notices_out=buf)
    return [TierNotice.model_validate_json(line) for line in buf.getvalue().splitlines()]


def cases_per_supplier(cases: Iterable[SupplierCase]) -> dict[Key, list[tuple[str, str, str]]]:
    """Each supplier's case events (event id, tier, occurred_at UTC) in the order sent, each id once."""
    out: dict[Key, list[tuple[str, str, str]]] = {}
    seen: set[str] = set()
    for c in cases:
        if c.event_id not in seen:
            seen.add(c.event_id)
            out.setdefault(("supplier", c.supplier_id), []).append(
                (c.event_id, c.tier, c.occurred_at.astimezone(UTC).isoformat()))
    return out


def offline_cases(path: Path) -> list[SupplierCase]:
    """What ``tierstream score --cases`` writes for ``path``, in that order."""
    buf = io.BytesIO()
    run(OfflineScorer(load_rules()), read_lines(path), cases_out=buf)
    return [SupplierCase.model_validate_json(line) for line in buf.getvalue().splitlines()]


def features(path: Path, changes: list[TierChange]) -> Counter[str]:
    """What a sample holds of issue 10's points: counted in the file, and in its offline changes."""
    n: Counter[str] = Counter()
    years: set[int] = set()
    invoiced: dict[str, float] = {}
    paid: dict[str, list[float]] = {}
    referred: set[str] = set()
    first_order: dict[str, str] = {}  # customer -> order_id of the first placed order
    cancelled: set[str] = set()
    suppliers: dict[str, int] = {}  # supplier -> deliveries
    for _, raw in read_lines(path):
        try:
            ev = INBOUND_ADAPTER.validate_json(raw)
        except ValidationError:
            continue
        doc = orjson.loads(raw)
        if isinstance(ev, ProfileEvent):  # a lasting fact, dated up to ~2.5 years before the history
            n[f"{ev.entity_type} profile"] += 1
            if ev.group is not None:
                n["profile naming a group"] += 1
            continue
        years.add(ev.occurred_at.year)
        if doc.get("currency"):
            n[f"currency {doc['currency']}"] += 1
        if isinstance(ev, OrderEvent) and ev.customer_id is not None:
            status = doc.get("status") or "placed"
            n[f"customer order {status}"] += 1
            if status == "placed":
                first_order.setdefault(ev.customer_id, ev.order_id)
                if doc.get("cost") is None:
                    n["customer order without cost"] += 1
            elif status == "cancelled":
                cancelled.add(ev.order_id)
            if doc.get("returned_amount") is not None:
                n["partial return (returned_amount)"] += 1
            if doc.get("customer_group"):
                n[f"declared group {doc['customer_group']}"] += 1
        elif isinstance(ev, OrderEvent) and ev.supplier_id is not None:
            suppliers.setdefault(ev.supplier_id, 0)
        elif isinstance(ev, InvoiceEvent):
            invoiced[ev.invoice_id] = ev.amount
        elif isinstance(ev, PaymentEvent):
            paid.setdefault(ev.invoice_id, []).append(ev.amount)
            if doc.get("delay_reason"):
                n["payment with delay_reason"] += 1
        elif isinstance(ev, ReferralEvent):
            referred.add(ev.referred_id)
        elif isinstance(ev, DeliveryEvent):
            suppliers[ev.supplier_id] = suppliers.get(ev.supplier_id, 0) + 1
            if ev.quantity_delivered == 0:
                n["delivery of nothing"] += 1
            elif ev.quantity_delivered > ev.quantity_ordered:
                n["over-delivery"] += 1
        elif isinstance(ev, ServiceEvent) and ev.first_response_at is None:
            n["service ticket recorded open"] += 1
        elif isinstance(ev, AssessmentEvent) and ev.prospect_score is not None:
            n[f"prospect assessment of a {ev.entity_type}"] += 1
    n[f"history {min(years)}-{max(years)}"] = 1
    n["invoice event"] = len(invoiced)
    n["invoice never paid"] = sum(1 for i in invoiced if i not in paid)
    n["invoice paid in parts"] = sum(1 for amounts in paid.values() if len(amounts) > 1)
    n["referred customer who placed and cancelled"] = sum(
        1 for c in referred if c in first_order and first_order[c] in cancelled)
    n["supplier without a delivery"] = sum(1 for d in suppliers.values() if d == 0)
    held: set[Key] = set()  # entities whose last change was held by hysteresis
    for c in changes:
        key = (c.entity_type, c.entity_id)
        text = " | ".join(c.reasons)
        if c.tier == "ungraded":
            n[f"ungraded {c.entity_type}: {c.ungraded_reason}"] += 1
        if c.cause == "re-review":
            n["time-driven change (re-review)"] += 1
            if key in held:
                n["re-review: a hold lapsed"] += 1
            for what, needle in (("recency ageing", "recency down"), ("assessment expired", " ended "),
                                 ("prospect assessment outgrown", "no longer applies"),
                                 ("invoice overdue", "past due")):
                if needle in text:
                    n[f"re-review: {what}"] += 1
        (held.add if "held in" in text else held.discard)(key)
    return n
