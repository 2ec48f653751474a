"""The sample generator: reproducible, valid where meant to be, messy where meant to be."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from tierstream.schemas.events import (
    INBOUND_ADAPTER,
    AnyEvent,
    AssessmentEvent,
    DeliveryEvent,
    InvoiceEvent,
    OrderEvent,
    PaymentEvent,
    ProfileEvent,
    ReferralEvent,
    ServiceEvent,
)
from tierstream.streams.dev.sample import (
    DEFAULT_END,
    EVENT_TYPES,
    INVALID_KINDS,
    SampleStats,
    estimate_lines,
    generate,
    write_sample,
)

CUSTOMERS, SUPPLIERS, DAYS, SEED = 1500, 150, 365, 7


@dataclass
class Parsed:
    path: Path
    stats: SampleStats
    lines: list[bytes]
    events: list[AnyEvent | None]  # None for a line that failed validation


def _parse(path: Path, stats: SampleStats) -> Parsed:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data[:-1].split(b"\n")
    events: list[AnyEvent | None] = []
    for line in lines:
        try:
            events.append(INBOUND_ADAPTER.validate_json(line))
        except ValidationError:
            events.append(None)
    return Parsed(path, stats, lines, events)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Parsed:
    """Default ratios, a population big enough to show every feature."""
    path = tmp_path_factory.mktemp("sample") / "events.jsonl"
    stats = write_sample(path, CUSTOMERS, SUPPLIERS, DAYS, SEED)
    return _parse(path, stats)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Parsed:
    """High invalid/late/duplicate ratios on a small population."""
    path = tmp_path_factory.mktemp("messy") / "events.jsonl"
    stats = write_sample(
        path, 400, 40, 120, 3, invalid_ratio=0.08, late_ratio=0.08, duplicate_ratio=0.08
    )
    return _parse(path, stats)


def _valid(p: Parsed) -> list[AnyEvent]:
    return [e for e in p.events if e is not None]


def _distinct(p: Parsed) -> dict[str, AnyEvent]:
    out: dict[str, AnyEvent] = {}
    for e in _valid(p):
        out.setdefault(e.event_id, e)
    return out


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_gives_identical_bytes(tmp_path: Path, sample: Parsed) -> None:
    again = tmp_path / "again.jsonl"
    stats = write_sample(again, CUSTOMERS, SUPPLIERS, DAYS, SEED)
    assert again.read_bytes() == sample.path.read_bytes()
    assert stats == sample.stats
    assert not list(tmp_path.glob("*.tmp"))


def test_progress_is_reported_line_by_line_to_the_callback(tmp_path: Path, sample: Parsed) -> None:
    done: list[int] = []
    stats = write_sample(tmp_path / "s.jsonl", CUSTOMERS, SUPPLIERS, DAYS, SEED, on_progress=done.append)
    assert sum(done) == stats.lines == len(sample.lines)
    assert len(done) > 1 and all(n == 8192 for n in done[:-1])  # in batches: a bar is not drawn per line
    assert (tmp_path / "s.jsonl").read_bytes() == sample.path.read_bytes()


def test_generate_yields_the_file_lines(sample: Parsed) -> None:
    lines = list(generate(CUSTOMERS, SUPPLIERS, DAYS, SEED))
    assert lines == sample.lines
    assert all(b"\n" not in line for line in lines)


def test_different_seed_differs(sample: Parsed) -> None:
    other = list(generate(CUSTOMERS, SUPPLIERS, DAYS, SEED + 1))
    assert other != sample.lines
    assert len(set(other[:200]) & set(sample.lines[:200])) < 5


def test_each_argument_changes_the_output() -> None:
    base = list(generate(100, 10, 30, 1))
    assert list(generate(100, 10, 30, 1)) == base
    assert list(generate(101, 10, 30, 1)) != base
    assert list(generate(100, 11, 30, 1)) != base
    assert list(generate(100, 10, 31, 1)) != base
    assert list(generate(100, 10, 30, 1, late_ratio=0.2)) != base


# ----------------------------------------------------------------------------- validity


def test_valid_lines_validate_and_invalid_ones_are_exactly_the_counted_ones(
    sample: Parsed, messy: Parsed
) -> None:
    for p in (sample, messy):
        failed = sum(e is None for e in p.events)
        assert failed == p.stats.invalid > 0
        assert len(p.lines) == p.stats.lines
        assert len(p.lines) == p.stats.valid + p.stats.invalid + p.stats.duplicates
        per_type = Counter(e.type for e in _distinct(p).values())
        assert dict(per_type) == {t: n for t, n in p.stats.counts.items() if n}


def test_invalid_lines_are_varied(messy: Parsed) -> None:
    kinds = messy.stats.invalid_kinds
    assert set(kinds) <= set(INVALID_KINDS)
    assert sum(kinds.values()) == messy.stats.invalid
    assert len(kinds) >= 12
    bad = [line for line, e in zip(messy.lines, messy.events, strict=True) if e is None]
    assert any(not line.startswith(b"{") or not line.endswith(b"}") for line in bad)  # not JSON
    assert any(re.search(rb"nan|infinity", line, re.IGNORECASE) for line in bad)
    assert any(b'"type":"referral"' in line for line in bad)  # self-referral


def test_all_six_types_present(sample: Parsed) -> None:
    assert set(EVENT_TYPES) == {e.type for e in _valid(sample)}
    assert all(sample.stats.counts[t] > 0 for t in EVENT_TYPES)


def test_event_ids_unique_except_verbatim_duplicates(sample: Parsed) -> None:
    first: dict[str, int] = {}
    repeats = 0
    for i, (line, e) in enumerate(zip(sample.lines, sample.events, strict=True)):
        if e is None:
            continue
        assert re.fullmatch(r"e\d{9}|p\d{7}", e.event_id)  # profiles are numbered apart
        if e.event_id in first:
            repeats += 1
            assert sample.lines[first[e.event_id]] == line
            assert i > first[e.event_id]
        else:
            first[e.event_id] = i
    assert repeats == sample.stats.duplicates > 0


def test_dates_inside_the_window(sample: Parsed, tmp_path: Path) -> None:
    start = DEFAULT_END - timedelta(days=DAYS)
    # a profile is a lasting fact: an entity active when the window opens sent it up to 900 days before
    assert all(start <= e.occurred_at <= DEFAULT_END for e in _valid(sample) if not isinstance(e, ProfileEvent))
    assert all(start - timedelta(days=900) <= e.occurred_at <= DEFAULT_END
               for e in _valid(sample) if isinstance(e, ProfileEvent))
    end = datetime(2025, 3, 15, 12, 30, tzinfo=UTC)
    events = [
        INBOUND_ADAPTER.validate_json(x) for x in generate(50, 5, 10, 1, end=end, invalid_ratio=0)
    ]
    assert events
    assert all(end - timedelta(days=10) <= e.occurred_at <= end for e in events if not isinstance(e, ProfileEvent))


# ----------------------------------------------------------------------------- file order


def _in_file_order(events: list[AnyEvent]) -> list[tuple[datetime, AnyEvent]]:
    """Each event with the time it happens in the file: its ``occurred_at``, except for the answer
    to a ticket first recorded open, which comes when the response does (it is dated, as every
    service event, when the ticket was opened)."""
    opened = {e.ticket_id for e in events if isinstance(e, ServiceEvent) and e.first_response_at is None}
    return [(e.first_response_at if isinstance(e, ServiceEvent) and e.first_response_at is not None
             and e.ticket_id in opened else e.occurred_at, e) for e in events]


def test_mostly_sorted_with_late_lines(sample: Parsed, messy: Parsed) -> None:
    for p in (sample, messy):
        latest: datetime | None = None
        behind: list[float] = []
        seen: set[str] = set()
        for when, e in _in_file_order(_valid(p)):
            if e.event_id in seen:
                continue  # duplicates are checked elsewhere
            seen.add(e.event_id)
            if latest is not None and when < latest:
                behind.append((latest - when).total_seconds())
            latest = when if latest is None else max(latest, when)
        assert len(behind) == p.stats.late > 0
        assert max(behind) <= 4 * 86_400
    assert sample.stats.late / sample.stats.valid < 0.02  # default late_ratio 0.01


def test_entities_are_interleaved(sample: Parsed) -> None:
    head = [e for e in [e for e in _valid(sample) if not isinstance(e, ProfileEvent)][:300]  # profiles first
            if isinstance(e, OrderEvent)]
    assert len({e.customer_id for e in head if e.customer_id}) > 50
    assert len({e.supplier_id for e in head if e.supplier_id}) > 10


def test_ratios_roughly_respected(sample: Parsed) -> None:
    valid = sample.stats.valid
    assert 0.0005 < sample.stats.invalid / valid < 0.005
    assert 0.005 < sample.stats.late / valid < 0.02
    assert 0.002 < sample.stats.duplicates / valid < 0.01
    clean = list(generate(100, 10, 60, 5, invalid_ratio=0, late_ratio=0, duplicate_ratio=0))
    events = [INBOUND_ADAPTER.validate_json(x) for x in clean]
    times = [when for when, _ in _in_file_order(events)]
    assert times == sorted(times)
    assert len({e.event_id for e in events}) == len(events)


# ----------------------------------------------------------------------------- volume


def test_line_count_matches_the_estimate(sample: Parsed) -> None:
    expected = estimate_lines(CUSTOMERS, SUPPLIERS, DAYS)
    assert 0.85 * expected <= sample.stats.lines <= 1.15 * expected


@pytest.mark.parametrize(("customers", "suppliers", "days"), [(3000, 0, 30), (0, 300, 90)])
def test_line_count_scales(customers: int, suppliers: int, days: int) -> None:
    n = sum(1 for _ in generate(customers, suppliers, days, 11))
    expected = estimate_lines(customers, suppliers, days)
    assert 0.85 * expected <= n <= 1.15 * expected


def test_empty_population() -> None:
    assert list(generate(0, 0, 30, 1)) == []


# ----------------------------------------------------------------------------- realism


def test_sales_and_their_follow_ups_are_consistent(sample: Parsed) -> None:
    events = list(_distinct(sample).values())
    placed = {e.order_id: e for e in events if isinstance(e, OrderEvent) and e.status == "placed"}
    sales = [e for e in placed.values() if e.customer_id]
    reversals = [e for e in events if isinstance(e, OrderEvent) and e.status != "placed"]
    assert {e.status for e in reversals} == {"cancelled", "returned"}
    for r in reversals:
        o = placed[r.order_id]
        assert r.event_id != o.event_id
        assert (r.amount, r.cost, r.customer_id, r.supplier_id) == (
            o.amount,
            o.cost,
            o.customer_id,
            o.supplier_id,
        )
        assert r.occurred_at > o.occurred_at
        if r.returned_amount is not None:  # a partial return: a share of the order
            assert r.status == "returned" and 0 < r.returned_amount <= o.amount
            assert r.returned_cost is None or (o.cost is not None and r.returned_cost <= o.cost)
    partial = [r for r in reversals if r.returned_amount is not None]
    assert partial and any(r.returned_cost is not None for r in partial)
    with_cost = [o for o in sales if o.cost is not None]
    assert 0.8 < len(with_cost) / len(sales) < 1.0  # sometimes no cost
    assert sum(o.cost < o.amount for o in with_cost if o.cost is not None) / len(with_cost) > 0.9
    assert {o.currency for o in sales} == {"CNY", "USD"}
    assert {o.customer_group for o in sales} == {None, "retail", "wholesale"}
    payments = [e for e in events if isinstance(e, PaymentEvent)]
    on_time = sum(p.occurred_at <= p.due_at for p in payments) / len(payments)
    assert 0.5 < on_time < 0.95
    paid: dict[str, list[PaymentEvent]] = {}
    for p in payments:
        o = placed[f"so{p.invoice_id[3:]}"]
        assert p.customer_id == o.customer_id
        assert o.occurred_at < p.occurred_at
        paid.setdefault(p.invoice_id, []).append(p)
    in_full = 0
    for parts in paid.values():  # paid in one part or two (the second may fall after the end)
        total, owed = round(sum(p.amount for p in parts), 2), placed[f"so{parts[0].invoice_id[3:]}"].amount
        assert len(parts) in (1, 2) and total <= owed
        in_full += total == owed
    assert in_full / len(paid) > 0.95
    assert 0.05 < sum(len(parts) == 2 for parts in paid.values()) / len(paid) < 0.15
    late = [p for p in payments if p.occurred_at > p.due_at + timedelta(days=1)]
    assert 0.3 < sum(p.delay_reason is not None for p in late) / len(late) < 0.7
    assert all(p.delay_reason is None for p in payments if p.occurred_at <= p.due_at)
    invoices = [e for e in events if isinstance(e, InvoiceEvent)]
    for i in invoices:
        o = placed[f"so{i.invoice_id[3:]}"]
        assert (i.customer_id, i.amount, i.issued_at) == (o.customer_id, o.amount, o.occurred_at)
        assert i.occurred_at >= i.issued_at and i.due_at > i.issued_at
    unpaid = [i for i in invoices if i.invoice_id not in paid]
    assert 0.02 < len(unpaid) / len(invoices) < 0.2  # some are never paid (or not yet, near the end)
    assert 0.3 < sum(i not in {v.invoice_id for v in invoices} for i in paid) / len(paid) < 0.5  # payments alone


def test_purchases_deliveries_and_tickets(sample: Parsed) -> None:
    events = list(_distinct(sample).values())
    purchases = {
        e.order_id: e
        for e in events
        if isinstance(e, OrderEvent) and e.supplier_id and e.status == "placed"
    }
    assert all(o.market_amount is not None and o.cost is None for o in purchases.values())
    deliveries = [e for e in events if e.type == "delivery"]
    assert deliveries
    for d in deliveries:
        assert d.order_id in purchases
        assert d.occurred_at > purchases[d.order_id].occurred_at
    assert any(d.quantity_accepted < d.quantity_delivered for d in deliveries)
    assert any(d.quantity_delivered < d.quantity_ordered for d in deliveries)
    assert any(d.occurred_at > d.promised_at for d in deliveries)
    assert any(d.quantity_delivered > d.quantity_ordered for d in deliveries)  # over-deliveries
    assert any(d.quantity_delivered == 0 for d in deliveries)  # deliveries of nothing
    tickets = [e for e in events if isinstance(e, ServiceEvent)]
    answered = [t for t in tickets if t.first_response_at is not None]
    still_open = [t for t in tickets if t.first_response_at is None]
    assert len({t.ticket_id for t in answered}) == len(answered)
    assert len({t.ticket_id for t in still_open}) == len(still_open)
    assert {t.ticket_id for t in still_open} - {t.ticket_id for t in answered}  # open at the end
    assert {t.ticket_id for t in still_open} & {t.ticket_id for t in answered}  # open, then answered


def test_referrals_and_assessments(sample: Parsed) -> None:
    events = list(_distinct(sample).values())
    referrals = [e for e in events if isinstance(e, ReferralEvent)]
    assert referrals and all(r.referrer_id != r.referred_id for r in referrals)
    buyers = {e.customer_id for e in events if isinstance(e, OrderEvent) and e.customer_id}
    assert any(r.referred_id not in buyers for r in referrals)  # some never buy
    assert any(r.referred_id in buyers for r in referrals)
    assert max(Counter(r.referrer_id for r in referrals).values()) >= 3  # ambassadors
    assessments = [e for e in events if isinstance(e, AssessmentEvent)]
    prospects = [a for a in assessments if a.prospect_score is not None]
    overrides = [a for a in assessments if a.tier_override is not None]
    assert prospects and overrides
    assert {a.entity_type for a in prospects} == {"customer", "supplier"}  # new suppliers too
    assert all(a.expires_at > a.occurred_at for a in assessments)


def test_profiles(sample: Parsed) -> None:
    """Issue 12, point 6: profiles of customers and suppliers, some older than the window, some replaced."""
    events = list(_distinct(sample).values())
    profiles = [e for e in events if isinstance(e, ProfileEvent)]
    assert {p.entity_type for p in profiles} == {"customer", "supplier"}
    start = DEFAULT_END - timedelta(days=DAYS)
    assert any(p.occurred_at < start - timedelta(days=365 + 60) for p in profiles)  # older than the retention
    assert max(Counter((p.entity_type, p.entity_id) for p in profiles).values()) == 2  # a later one replaces it
    assert any(p.share_of_wallet is not None for p in profiles) and all(p.attributes for p in profiles)
    # a profile names the group the customer's orders name
    named = {e.customer_id: e.customer_group for e in events
             if isinstance(e, OrderEvent) and e.customer_id and e.customer_group}
    grouped = [p for p in profiles if p.group is not None and p.entity_id in named]
    assert grouped and all(named[p.entity_id] == p.group for p in grouped)
    assert all(p.business_nature == "wholesale" for p in grouped if p.group == "wholesale")


def test_missing_evidence_shapes(sample: Parsed) -> None:
    """Customers whose feed has no costs, suppliers with purchase orders and no delivery yet."""
    events = _valid(sample)
    sales: dict[str, list[OrderEvent]] = {}
    for e in events:
        if isinstance(e, OrderEvent) and e.customer_id and e.status == "placed":
            sales.setdefault(e.customer_id, []).append(e)
    assert any(len(s) >= 3 and all(o.cost is None for o in s) for s in sales.values())
    purchasing = {e.supplier_id for e in events if isinstance(e, OrderEvent) and e.supplier_id}
    delivering = {e.supplier_id for e in events if isinstance(e, DeliveryEvent)}
    assert purchasing - delivering


def test_heavy_tail_and_time_zones(sample: Parsed) -> None:
    events = _valid(sample)
    per_customer = Counter(
        e.customer_id for e in events if isinstance(e, OrderEvent) and e.customer_id
    )
    counts = sorted(per_customer.values())
    assert counts[-1] >= 10 * statistics.median(counts)  # whales
    assert counts[0] == 1  # occasional buyers
    offsets = {e.occurred_at.utcoffset() for e in events}
    assert timedelta(0) in offsets and timedelta(hours=8) in offsets
    raw = b"\n".join(sample.lines[:2000])
    assert b'Z"' in raw and b'+08:00"' in raw


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 0},
        {"customers": -1},
        {"invalid_ratio": -0.1},
        {"late_ratio": 1.5},
        {"invalid_ratio": 0.5, "late_ratio": 0.4, "duplicate_ratio": 0.2},
        {"end": datetime(2026, 11, 1)},
    ],
)
def test_bad_arguments_are_refused_eagerly(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"customers": 10, "suppliers": 1, "days": 10, "seed": 1}
    args.update(kwargs)
    with pytest.raises(ValueError):
        generate(**args)  # type: ignore[arg-type]
