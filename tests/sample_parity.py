"""Helpers of the stream = offline parity on tier *changes* (tests/test_pipeline.py).

A snapshot is a function of the set of events; the sequence of an entity's tier
changes is a function of the order in which its events (and referral credits) are
graded and of the instants its reviews run at. The offline scorer takes a file in
its order and runs an entity's due reviews before its next event; the stream
receives each event type on its own topic (no fixed interleaving between them), a
referral credit through a topic of its own, and reviews an entity up to the
latest event time the worker has seen. So, to compare the change sequences, the
file is published in its order *for each entity* (:func:`paced`): an event waits
until the worker has graded everything published before it when

* its entity still has an event in flight on another topic, or a referral credit
  in flight (earned by the referred customer's order); or
* its time passes the next review instant of an entity with something in flight
  (the worker's timer could review that entity before its event arrives, with a
  history the file never had).

Progress is polled (``tierstream_events_in_total``, the group's committed offset on
``referral-credits``), never slept on. :func:`features` counts what a sample holds.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaAdminClient
from pydantic import ValidationError

from tierstream.schemas.errors import InputError
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
    entity_of,
)
from tierstream.schemas.outputs import ReferralCredit, SupplierCase, TierChange, TierNotice
from tierstream.schemas.rules import Rules, load_rules
from tierstream.scorers.engine import Outcome, ts
from tierstream.streams.dev.harness import Deployment, Worker, poll
from tierstream.streams.kafka.topics import INBOUND_KINDS
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

__all__ = ["Change", "Notice", "Pacer", "cases_per_supplier", "features", "notices_per_entity", "offline_cases",
           "offline_changes", "offline_notices", "paced", "per_entity", "raced_ahead", "timer_dependent"]

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


def raced_ahead(want: list[Change], got: list[Change]) -> bool:
    """Whether ``got`` is ``want`` but for the timer running ahead of an event still in flight.

    The worker's clock is the latest event time it saw, on any partition; an entity's event
    still travelling on another topic can arrive after the timer reviewed the entity past that
    event's time. The stream then publishes the event's change dated before the change just
    before it, and the review after it undoes it: ``x -> y`` (the event), ``y -> x``
    (re-review). Those pairs removed, the sequence must be the file's.
    """
    w, g = [c[1:] for c in want], [c[1:] for c in got]
    kept: list[tuple[Any, ...]] = []
    i = 0
    while i < len(g):
        late = i + 1 < len(g) and kept and g[i][2] != "re-review" and g[i][3] < kept[-1][3]
        if late and g[i + 1][2] == "re-review" and (g[i + 1][0], g[i + 1][1]) == (g[i][1], g[i][0]):
            i += 2
            continue
        kept.append(g[i])
        i += 1
    return kept == w


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


def timer_dependent(path: Path) -> set[Key]:
    """The entities the stream's timer may review before one of their late lines, where the file does not.

    A line older than a line before it (e.g. the answer to a ticket recorded open, dated when
    it opened) reaches the worker after its watermark passed the line's time: a review of its
    entity due between the two may run before it (when the timer fires first) or after it.
    The tier changes of the sample never depend on it; a notice can: the review may find a
    condition (a hold) that the late line would have started earlier, at the line's time.
    """
    scorer = OfflineScorer(load_rules())
    watermark: int | None = None
    found: set[Key] = set()
    for lineno, raw in read_lines(path):
        try:
            event = INBOUND_ADAPTER.validate_json(raw)
        except ValidationError:
            continue
        key, t = entity_of(event), ts(event.occurred_at)
        state = scorer.states.get(key)
        if watermark is not None and t < watermark and state is not None and state.next_review is not None \
                and t < state.next_review <= watermark:
            found.add(key)
        with contextlib.suppress(InputError):
            scorer.feed(lineno, event)
        watermark = t if watermark is None else max(watermark, t)
    return found


class _Lockstep(OfflineScorer):
    """An offline scorer that notes who earns each referral credit (to know one is in flight)."""

    def __init__(self, rules: Rules | None = None) -> None:
        super().__init__(rules or load_rules())
        self.credited: list[ReferralCredit] = []

    def _settle(self, out: Outcome) -> list[TierChange]:
        self.credited.extend(out.credits)
        return super()._settle(out)


def _sent(raw: bytes) -> bool:
    """Whether ``publish`` sends the line (a JSON object of a known type, valid or not)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and str(doc.get("type")) in INBOUND_KINDS


class Pacer:
    """What is in flight to one worker, and the waits until it has graded it."""

    def __init__(self, stream: Deployment, worker: Worker) -> None:
        self.stream, self.worker = stream, worker
        self.sent = 0  # inbound messages handed to the publisher
        self.credits = 0  # referral credits the worker will receive
        self.inflight: dict[Key, tuple[str, int | None]] = {}  # entity -> (topic, next review)
        self.credits_seen = 0  # of them, graded by the worker at the last look
        self.barriers = 0
        self._admin: KafkaAdminClient | None = None

    def _credits_graded(self) -> int:
        if self._admin is None:
            self._admin = self.stream.admin()
        topic = self.stream.names.referral_credits
        offsets = self._admin.list_group_offsets(self.stream.name).get(self.stream.name, {})
        return sum(int(m.offset) for tp, m in offsets.items() if tp.topic == topic and m.offset > 0)

    def barrier(self) -> None:
        """Wait until the worker has graded every message published so far, credits included.

        A credit counts once the group has committed past it (the worker commits every second
        or so): only when one was earned since the last wait."""
        self.barriers += 1
        poll(lambda: self.worker.metric("tierstream_events_in_total") >= self.sent, 60,
             f"the worker to grade {self.sent} messages", interval=0.01)
        if self.credits > self.credits_seen:
            def graded() -> bool:
                self.credits_seen = self._credits_graded()
                return self.credits_seen >= self.credits

            poll(graded, 60, f"the worker to grade {self.credits} referral credits", interval=0.05)
        self.inflight.clear()

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()

    def blocked(self, key: Key, topic: str, t: int) -> bool:
        mine = self.inflight.get(key)
        if mine is not None and mine[0] != topic:
            return True
        return any(nr is not None and nr <= t for _, nr in self.inflight.values())

    def note(self, key: Key, topic: str, nr: int | None) -> None:
        old = self.inflight.get(key)
        if old is not None and old[1] is not None and (nr is None or old[1] < nr):
            nr = old[1]
        self.inflight[key] = (topic, nr)


def paced(pacer: Pacer, lines: Iterable[tuple[int, bytes]], rules: Rules | None = None
          ) -> Iterator[tuple[int, bytes]]:
    """The lines for ``publish``, each held back (``pacer.barrier``) as the module says (``rules``: the worker's)."""
    shadow = _Lockstep(rules)
    for lineno, raw in lines:
        try:
            event = INBOUND_ADAPTER.validate_json(raw)
        except ValidationError:
            if _sent(raw):
                pacer.sent += 1
            yield lineno, raw
            continue
        key, t = entity_of(event), ts(event.occurred_at)
        if pacer.blocked(key, event.type, t):
            pacer.barrier()
        prior = shadow.states.get(key)
        if prior is not None:  # the reviews due up to the event run before it, in both
            shadow.grader.review_due(prior, t)
        before = prior.next_review if prior is not None else None
        n_credits = len(shadow.credited)
        with contextlib.suppress(InputError):  # refused by the grader: the worker dead-letters it
            shadow.feed(lineno, event)
        after = shadow.states.get(key)
        nrs = [x for x in (before, after.next_review if after is not None else None) if x is not None]
        pacer.note(key, event.type, min(nrs) if nrs else None)
        for credit in shadow.credited[n_credits:]:
            ref = ("customer", credit.referrer_id)
            pacer.credits += 1
            pacer.note(ref, "referral-credits", shadow.states[ref].next_review)
        pacer.sent += 1
        yield lineno, raw


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
