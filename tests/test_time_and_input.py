"""Issue 10, points 1 and 8 (a-e): history of any age, and input that says what it means.

Golden values are derived by hand in the comments from the small rules below
(or from schemas/default_rules.yaml where said), never by running the code.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tierstream.schemas.errors import InputError, RulesError
from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.rules import Rules, load_rules, parse_rules
from tierstream.scorers.calendar import Calendar
from tierstream.streams.cli.main import main
from tierstream.streams.offline.score import OfflineScorer, run

# Two dimensions, no hysteresis: every tier follows the score at once.
# customer score = 0.5 * recency + 0.5 * monetary, recency 100 - 10 per day (0 from day 10),
# monetary revenue / 100 (100 from 10,000); key >= 60, general >= 30.
RULES = """
version: "t-time"
timezone: UTC
currency: CNY
fx_rates: {USD: 7.0, JPY: 0.05}
customer:
  window_days: 30
  dimensions:
    recency:  {metric: recency_days, weight: 0.5, scale: [[0, 100], [10, 0]]}
    monetary: {metric: revenue, weight: 0.5, scale: [[0, 0], [10000, 100]]}
  tiers:
    - {name: key, min_score: 60}
    - {name: general, min_score: 30}
    - {name: potential, min_score: 0}
  hysteresis: {downgrade_margin: 0, min_days_in_tier: 0, grace_days: 0, hold_days: 0}
  rfm: {recency_days: 30, frequency: 2, monetary: 1000}
  groups:
    retail: {}
    wholesale:
      tiers:
        - {name: key, min_score: 90}
        - {name: general, min_score: 30}
        - {name: potential, min_score: 0}
supplier:
  window_days: 30
  dimensions:
    quality: {metric: quality_pass_rate, weight: 1.0, scale: [[0.8, 0], [1, 100]]}
  tiers:
    - {name: good, min_score: 50}
    - {name: poor, min_score: 0}
  hysteresis: {downgrade_margin: 0, min_days_in_tier: 0, grace_days: 0, hold_days: 0}
"""

#: 28 years keep the calendar: the same weekdays and leap years (no 1900 or 2100 in between)
YEARS_28 = timedelta(days=10_227)


def rules(**top: str) -> Rules:
    text = RULES
    for key, value in top.items():
        text = re.sub(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.M)
    return parse_rules(text)


def order(n: int, cid: str, at: str, amount: float, **extra: Any) -> dict[str, Any]:
    return {"type": "order", "event_id": f"e-o{n}", "order_id": f"o{n}", "customer_id": cid,
            "occurred_at": at, "amount": amount, **extra}


def lines(docs: list[dict[str, Any]]) -> list[tuple[int, bytes]]:
    return [(i, orjson.dumps(d)) for i, d in enumerate(docs, 1)]


def score(docs: list[dict[str, Any]], r: Rules, received_at: int | None = None, as_of: int | None = None,
          strict: bool = False) -> tuple[OfflineScorer, list[dict[str, Any]], list[dict[str, Any]]]:
    """Score ``docs`` in file order: the scorer, its changes and its rejects (as JSON documents)."""
    scorer = OfflineScorer(r, as_of=as_of, received_at=received_at)
    changes, rejects = io.BytesIO(), io.BytesIO()
    run(scorer, lines(docs), changes, strict=strict, rejects_out=rejects)
    return (scorer, [orjson.loads(x) for x in changes.getvalue().splitlines()],
            [orjson.loads(x) for x in rejects.getvalue().splitlines()])


def snapshot(scorer: OfflineScorer, kind: str, eid: str, as_of: int | None = None) -> dict[str, Any]:
    at = scorer.graded_until() if as_of is None else as_of
    snap = scorer.grader.snapshot(scorer.states[(kind, eid)], at)
    return snap.model_dump(mode="json")


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


# --------------------------------------------------------------------------- point 1


HISTORY_1997 = [
    order(1, "c1", "1997-12-30T09:00:00Z", 4000.0),
    order(2, "c1", "1998-01-04T09:00:00Z", 2000.0),
]


@pytest.mark.parametrize(("history", "years"), [(HISTORY_1997, 1997), ("shifted", 1969)])
def test_a_1990s_history_and_the_same_before_1970_give_the_hand_computed_grades(
    history: Any, years: int,
) -> None:
    # By hand, from RULES. Order 1 (day 0): recency 0 -> 100, revenue 4,000 -> 40: score
    # 0.5*100 + 0.5*40 = 70 -> key (initial). Days later recency is 100 - 10k: score 70 - 5k,
    # under 60 from k = 3 (55): at the midnight starting day 3 (12-30 + 3 = 01-02) a re-review
    # downgrades to general. Order 2 (01-04): recency 100, revenue 6,000 -> 60: score 80 -> key.
    # Shifted back 28 years the first order is on 1969-12-30, before the epoch (negative
    # seconds): the same grades on the same calendar dates, 28 years earlier.
    docs = HISTORY_1997
    if history == "shifted":
        docs = [{**d, "occurred_at": d["occurred_at"].replace("1997", "1969").replace("1998", "1970")}
                for d in HISTORY_1997]
        assert epoch(docs[0]["occurred_at"]) < 0
    y0, y1 = str(years), str(years + 1)
    scorer, changes, rejects = score(docs, rules())
    assert rejects == []
    assert [(c["tier"], c["direction"], c["occurred_at"], round(c["score"], 6)) for c in changes] == [
        ("key", "initial", f"{y0}-12-30T09:00:00Z", 70.0),
        ("general", "downgrade", f"{y1}-01-02T00:00:00Z", 55.0),
        ("key", "upgrade", f"{y1}-01-04T09:00:00Z", 80.0),
    ]
    snap = snapshot(scorer, "customer", "c1")
    assert snap["tier"] == "key" and snap["score"] == pytest.approx(80.0)
    a = snap["aggregates"]
    assert (a["order_count"], a["revenue"], a["recency_days"]) == (2, 6000.0, 0)
    assert (a["first_order_at"], a["last_order_at"]) == (f"{y0}-12-30T09:00:00Z", f"{y1}-01-04T09:00:00Z")
    # the window: the day graded and the 29 before it (30 days): 01-04 back to 12-06
    assert snap["window"] == {"days": 30, "start": f"{y0}-12-06", "end": f"{y1}-01-04"}


def test_too_old_stays_relative_to_the_entity_clock() -> None:
    # window 30 days, no lookback: an order 31 days before the entity's latest is too old,
    # whatever the year; one 29 days before is counted.
    docs = [order(1, "c1", "1997-03-31T12:00:00Z", 100.0),
            order(2, "c1", "1997-03-02T12:00:00Z", 100.0),   # 29 days before: in the window
            order(3, "c1", "1997-02-28T12:00:00Z", 100.0)]   # 31 days before: too old
    scorer, _, rejects = score(docs, rules())
    assert [(r["line"], r["kind"], r["field"]) for r in rejects] == [(3, "too_old", "occurred_at")]
    assert scorer.report.too_old == 1
    assert snapshot(scorer, "customer", "c1")["aggregates"]["revenue"] == 200.0


@pytest.mark.parametrize("value", ["0099-12-31T23:59:59Z", "9900-01-01T00:00:00Z"])
def test_instants_outside_the_representable_range_are_refused_with_the_range(value: str) -> None:
    raw = orjson.dumps(order(1, "c1", value, 1.0))
    with pytest.raises(ValidationError) as info:
        INBOUND_ADAPTER.validate_json(raw)
    assert "occurred_at" in str(info.value) and ("0100-01-01" in str(info.value) or "9900-01-01" in str(info.value))


def _shift(value: str, delta: timedelta) -> str:
    return (datetime.fromisoformat(value) - delta).isoformat()


_TIME_FIELDS = ("occurred_at", "due_at", "promised_at", "first_response_at", "expires_at")


def _shifted(docs: list[dict[str, Any]], delta: timedelta) -> list[dict[str, Any]]:
    return [{k: (_shift(v, delta) if k in _TIME_FIELDS else v) for k, v in d.items()} for d in docs]


def _dates_back(text: str, years: int) -> str:
    """Every date in ``text`` moved ``years`` (a multiple of 28) back: the shifted run's dates.

    ISO dates, and the epoch seconds in referral credit ids (``rc:<referrer>:<referred>:<t>``).
    """
    seconds = int((YEARS_28 * (years // 28)).total_seconds())
    text = re.sub(r"\b(\d{4})-(\d\d)-(\d\d)", lambda m: f"{int(m[1]) - years:04d}-{m[2]}-{m[3]}", text)
    return re.sub(r"\b(r[cv]:[^:\"]+:[^:\"]+:)(-?\d+)", lambda m: f"{m[1]}{int(m[2]) - seconds}", text)


BASE = datetime(2024, 3, 1, tzinfo=UTC)


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Mixed customer and supplier events (referrals too) over about a year and a half, in any order."""
    docs: list[dict[str, Any]] = []
    n = draw(st.integers(1, 25))
    for i in range(n):
        at = BASE + timedelta(seconds=draw(st.integers(0, 540 * 86_400)))
        kind = draw(st.sampled_from(["order", "order", "payment", "delivery", "cancel", "assessment", "referral"]))
        who = draw(st.sampled_from(["c1", "c2", "c3"]))
        if kind == "order":
            docs.append(order(i, who, at.isoformat(), draw(st.sampled_from([50.0, 800.0, 4000.0, 25000.0])),
                              cost=draw(st.sampled_from([None, 10.0, 300.0])),
                              currency=draw(st.sampled_from(["CNY", "USD", "JPY"]))))
            if docs[-1]["cost"] is None:
                del docs[-1]["cost"]
        elif kind == "cancel" and i:
            docs.append({**order(draw(st.integers(0, i - 1)), who, at.isoformat(), 1.0), "event_id": f"e-x{i}",
                         "status": draw(st.sampled_from(["cancelled", "returned"]))})
        elif kind == "payment":
            due = at + timedelta(days=draw(st.integers(-30, 30)))
            docs.append({"type": "payment", "event_id": f"e-p{i}", "customer_id": who, "invoice_id": f"i{i}",
                         "amount": 100.0, "occurred_at": at.isoformat(), "due_at": due.isoformat()})
        elif kind == "delivery":
            ordered = draw(st.integers(1, 50))
            delivered = draw(st.integers(0, ordered))
            docs.append({"type": "delivery", "event_id": f"e-d{i}", "supplier_id": "s1", "order_id": f"po{i}",
                         "occurred_at": at.isoformat(),
                         "promised_at": (at + timedelta(hours=draw(st.integers(-72, 72)))).isoformat(),
                         "quantity_ordered": ordered, "quantity_delivered": delivered,
                         "quantity_accepted": draw(st.integers(0, delivered))})
        elif kind == "referral":
            other = draw(st.sampled_from([c for c in ("c1", "c2", "c3") if c != who]))
            docs.append({"type": "referral", "event_id": f"e-r{i}", "referrer_id": who, "referred_id": other,
                         "occurred_at": at.isoformat()})
        else:
            docs.append({"type": "assessment", "event_id": f"e-a{i}", "entity_type": "customer", "entity_id": who,
                         "prospect_score": 75.0, "reason": "met at fair", "author": "ana",
                         "occurred_at": at.isoformat(), "expires_at": (at + timedelta(days=60)).isoformat()})
    return docs


def _outputs(docs: list[dict[str, Any]], r: Rules, received_at: int) -> str:
    scorer, changes, rejects = score(docs, r, received_at=received_at)
    snaps = [s.model_dump(mode="json") for s in scorer.snapshots(scorer.graded_until())]
    return orjson.dumps([changes, snaps, [(x["line"], x["kind"]) for x in rejects]]).decode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=histories(), years=st.sampled_from([28, 56, 84]))
def test_a_history_shifted_by_whole_28_years_grades_the_same_up_to_the_dates(
    docs: list[dict[str, Any]], years: int,
) -> None:
    # 56 and 84 years back put the history in the 1960s and 1940s: negative epoch seconds
    r = load_rules()
    received = int((BASE + timedelta(days=600)).timestamp())
    delta = YEARS_28 * (years // 28)
    expected = _dates_back(_outputs(docs, r, received), years)
    got = _outputs(_shifted(docs, delta), r, received - int(delta.total_seconds()))
    assert got == expected


# --------------------------------------------------------------------------- point 8 (a)


@pytest.mark.parametrize("reason", ["   ", "\t\n", "\u200b", "\u3000", "\x00"])
@pytest.mark.parametrize("judgement", [{"prospect_score": 70.0}, {"tier_override": "key"}])
def test_a_reason_without_visible_characters_is_refused(reason: str, judgement: dict[str, Any]) -> None:
    doc = {"type": "assessment", "event_id": "a1", "entity_type": "customer", "entity_id": "c1",
           "reason": reason, "author": "ana", "occurred_at": "2026-01-01T00:00:00Z",
           "expires_at": "2026-02-01T00:00:00Z", **judgement}
    _, _, rejects = score([doc], rules())
    assert len(rejects) == 1
    assert rejects[0]["field"] == "assessment.reason"
    assert "reason must contain visible characters" in rejects[0]["message"]
    ok = {**doc, "reason": " 新客户 "}
    assert score([ok], rules())[2] == []


# --------------------------------------------------------------------------- point 8 (b)


def test_an_undeclared_group_is_refused_with_its_line_value_and_the_known_groups() -> None:
    docs = [order(1, "c1", "2026-01-01T00:00:00Z", 10.0, customer_group="wholesale"),
            order(2, "c2", "2026-01-01T00:00:00Z", 10.0, customer_group="Wholesale")]
    scorer, _, rejects = score(docs, rules())
    assert rejects == [{
        "line": 2, "field": "customer_group", "value": "Wholesale", "kind": "invalid_event",
        "message": "customer_group 'Wholesale' is not a group of the rules (customer.groups: retail, wholesale)",
    }]
    assert ("customer", "c2") not in scorer.states
    with pytest.raises(InputError, match=r"^line 2: customer_group 'Wholesale' .*retail, wholesale"):
        score(docs, rules(), strict=True)


def test_a_group_declared_empty_is_graded_with_the_default_thresholds() -> None:
    # retail: {} takes the default tiers; wholesale's key needs 90. Both customers: one order
    # of 4,000 today: score 0.5*100 + 0.5*40 = 70: key by default, general for wholesale.
    docs = [order(1, "r1", "2026-01-01T00:00:00Z", 4000.0, customer_group="retail"),
            order(2, "w1", "2026-01-01T00:00:00Z", 4000.0, customer_group="wholesale")]
    scorer, _, _ = score(docs, rules())
    assert snapshot(scorer, "customer", "r1")["tier"] == "key"
    assert snapshot(scorer, "customer", "w1")["tier"] == "general"


def test_the_default_rules_declare_the_groups_the_sample_uses() -> None:
    assert set(load_rules().customer.groups) >= {"retail", "wholesale"}


# --------------------------------------------------------------------------- point 8 (d)


def test_amounts_in_other_currencies_are_converted_never_summed_as_is() -> None:
    # 1,000 USD at 7.0 = 7,000 CNY; 1,000 JPY at 0.05 = 50 CNY; 1,000 without a currency and
    # 1,000 CNY are in the base currency: 7,000 + 50 + 1,000 + 1,000 = 9,050 (never 4,000).
    # Profit of the USD order, the only costed one: (1,000 - 400) USD = 600 USD = 4,200 CNY on
    # 7,000 CNY of costed revenue; gross profit is that margin over the whole revenue
    # (default rules header): 4,200 x 9,050 / 7,000 = 5,430.
    docs = [order(1, "c1", "2026-01-01T10:00:00Z", 1000.0, currency="USD", cost=400.0),
            order(2, "c1", "2026-01-01T11:00:00Z", 1000.0, currency="JPY"),
            order(3, "c1", "2026-01-01T12:00:00Z", 1000.0),
            order(4, "c1", "2026-01-01T13:00:00Z", 1000.0, currency="CNY")]
    scorer, _, rejects = score(docs, rules())
    assert rejects == []
    a = snapshot(scorer, "customer", "c1")["aggregates"]
    assert a["revenue"] == 9050.0
    assert a["gross_profit"] == 5430.0


def test_an_amount_in_a_currency_without_a_rate_is_refused_with_its_line() -> None:
    docs = [order(1, "c1", "2026-01-01T10:00:00Z", 1000.0, currency="GBP")]
    _, _, rejects = score(docs, rules())
    assert rejects == [{
        "line": 1, "field": "currency", "value": "GBP", "kind": "invalid_event",
        "message": "currency 'GBP' has no exchange rate in the rules (fx_rates; known: CNY, JPY, USD)",
    }]


def test_a_return_reverses_the_converted_amount() -> None:
    # placed 1,000 USD (7,000 CNY) and 500 CNY, the USD order returned: 500 left
    docs = [order(1, "c1", "2026-01-01T10:00:00Z", 1000.0, currency="USD"),
            order(2, "c1", "2026-01-01T11:00:00Z", 500.0),
            {**order(1, "c1", "2026-01-02T10:00:00Z", 1000.0, currency="USD"), "event_id": "r1",
             "status": "returned"}]
    scorer, _, _ = score(docs, rules())
    assert snapshot(scorer, "customer", "c1")["aggregates"]["revenue"] == 500.0


@pytest.mark.parametrize(("yaml_line", "message"), [
    ("fx_rates: {usd: 7.0}", "fx_rates.usd"),
    ("fx_rates: {USD: 0}", "fx_rates.USD: Input should be greater than 0"),
    ("fx_rates: {CNY: 2.0}", "fx_rates.CNY: the base currency converts at 1"),
    ("currency: yuan", "currency: String should match pattern"),
    ("timezone: Asia/Shangai", "timezone: unknown IANA time zone 'Asia/Shangai'"),
])
def test_bad_currency_and_zone_rules_are_refused_naming_the_field(yaml_line: str, message: str) -> None:
    key = yaml_line.split(":")[0]
    text = re.sub(rf"^{key}: .*$", yaml_line, RULES, flags=re.M)
    with pytest.raises(RulesError, match=re.escape(message)):
        parse_rules(text)


# --------------------------------------------------------------------------- point 8 (e)


def test_days_are_the_calendar_days_of_the_rules_time_zone() -> None:
    # Asia/Shanghai is UTC+8 all year. Order at 2026-03-01T20:00Z = 03-02 04:00 local; graded
    # at 2026-03-02T15:00Z = 03-02 23:00 local: recency 0 days there (the same local date),
    # 1 day in UTC (03-01 -> 03-02). Score in Shanghai 0.5*100 + 0.5*40 = 70 (key); in UTC
    # recency 90: 0.5*90 + 20 = 65.
    docs = [order(1, "c1", "2026-03-01T20:00:00Z", 4000.0)]
    as_of = epoch("2026-03-02T15:00:00+00:00")
    for zone, recency, score_ in (("Asia/Shanghai", 0, 70.0), ("UTC", 1, 65.0)):
        scorer, _, _ = score(docs, rules(timezone=zone))
        snap = snapshot(scorer, "customer", "c1", as_of)
        assert (snap["aggregates"]["recency_days"], snap["score"]) == (recency, pytest.approx(score_)), zone
        # the window ends on the local date graded: 03-02 in both zones here
        assert snap["window"]["end"] == "2026-03-02"


def test_days_late_are_counted_in_local_days() -> None:
    # due 2026-03-10T23:30+08:00, paid 2026-03-11T00:30+08:00: one local day late in
    # Shanghai; in UTC both are on 03-10 (15:30Z and 16:30Z): on time.
    pay = {"type": "payment", "event_id": "p1", "customer_id": "c1", "invoice_id": "i1", "amount": 10.0,
           "occurred_at": "2026-03-11T00:30:00+08:00", "due_at": "2026-03-10T23:30:00+08:00"}
    docs = [order(1, "c1", "2026-03-01T00:00:00Z", 10.0), pay]
    late = {}
    for zone in ("Asia/Shanghai", "UTC"):
        scorer, _, _ = score(docs, rules(timezone=zone))
        late[zone] = snapshot(scorer, "customer", "c1")["aggregates"]["late_payments"]
    assert late == {"Asia/Shanghai": 1, "UTC": 0}


def test_a_time_driven_change_happens_at_local_midnight() -> None:
    # The 1997 history in Shanghai: the downgrade of day 3 happens at local midnight
    # 1998-01-02T00:00+08:00 = 1998-01-01T16:00Z. The orders are at 17:00 local (09:00Z),
    # on the same local dates as in UTC, so nothing else moves.
    _, changes, _ = score(HISTORY_1997, rules(timezone="Asia/Shanghai"))
    assert [(c["tier"], c["occurred_at"]) for c in changes] == [
        ("key", "1997-12-30T09:00:00Z"), ("general", "1998-01-01T16:00:00Z"), ("key", "1998-01-04T09:00:00Z"),
    ]


def test_calendar_days_around_a_daylight_saving_change() -> None:
    cal = Calendar("Europe/Madrid")
    # 2026-03-29: clocks go 02:00 -> 03:00 (CET -> CEST): a 23-hour day from 03-28T23:00Z
    d = cal.day(epoch("2026-03-29T12:00:00+00:00"))
    assert cal.start(d) == epoch("2026-03-28T23:00:00+00:00")
    assert cal.start(d + 1) - cal.start(d) == 23 * 3600
    # 2026-10-25: 03:00 -> 02:00: a 25-hour day
    d = cal.day(epoch("2026-10-25T12:00:00+00:00"))
    assert cal.start(d + 1) - cal.start(d) == 25 * 3600
    # an instant's day is its local date: 2026-10-24T22:30Z is 00:30 CEST on the 25th
    assert cal.day(epoch("2026-10-24T22:30:00+00:00")) == d
    assert cal.day(epoch("2026-10-24T21:59:59+00:00")) == d - 1
    assert Calendar("UTC").day(-1) == -1 and Calendar("UTC").start(-1) == -86_400


# --------------------------------------------------------------------------- point 8 (c)


def _cli_file(tmp_path: Path) -> Path:
    now = datetime.now(UTC)
    docs: list[Any] = [
        order(1, "c1", "2026-06-30T10:00:00Z", 100.0),
        order(2, "c1", "2026-01-01T10:00:00Z", 100.0),  # before c1's retention (30 days): too old
        {"type": "order", "event_id": "bad"},  # missing fields
        order(4, "c2", (now + timedelta(days=3)).isoformat(), 5.0),  # three days ahead: too new
        order(5, "c3", "2026-06-30T10:00:00Z", 5.0, customer_group="Retail"),
        b"{not json",
        order(7, "c4", "2026-06-30T10:00:00Z", 5.0, currency="GBP"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(d if isinstance(d, bytes) else orjson.dumps(d) for d in docs) + b"\n")
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_rejected_line_is_written_to_the_rejects_file(tmp_path: Path, workers: str) -> None:
    events = _cli_file(tmp_path)
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    out = tmp_path / f"rejects-{workers}.jsonl"
    res = CliRunner().invoke(main, ["score", str(events), "--rules", str(rules_path), "--rejects", str(out),
                                    "--workers", workers], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [(r["line"], r["kind"], r["field"]) for r in records] == [
        (2, "too_old", "occurred_at"),
        (3, "missing_field", "order.occurred_at"),  # the first missing field, in model order
        (4, "too_new", "occurred_at"),
        (5, "invalid_event", "customer_group"),
        (6, "invalid_json", "event"),
        (7, "invalid_event", "currency"),
    ]
    assert all(set(r) == {"line", "field", "value", "message", "kind"} for r in records)
    assert records[0]["value"] == "2026-01-01T10:00:00+00:00"
    assert records[1]["value"] is None  # a missing field has no value
    assert records[4]["value"] == "{not json"
    assert records[3]["value"] == "Retail"
    # the terminal names them too, with their line numbers, too old and too new included
    for r in records:
        assert f"rejected {events}:line {r['line']}: " in res.stderr
    assert f"all 6 rejected lines (invalid, too old, too new) are in {out}" in res.stderr
    assert "1 too old, 1 too new" in res.stderr


def test_the_rejects_file_is_the_same_for_any_number_of_processes(tmp_path: Path) -> None:
    events = _cli_file(tmp_path)
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    outs = []
    for workers in ("1", "3"):
        out = tmp_path / f"r{workers}.jsonl"
        CliRunner().invoke(main, ["score", str(events), "--rules", str(rules_path), "--rejects", str(out),
                                  "--workers", workers], catch_exceptions=False)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0].count(b"\n") == 6


# --------------------------------------------------------------------------- point 1, on the sample


def test_the_sample_ended_56_years_earlier_scores_the_same_up_to_the_dates(tmp_path: Path) -> None:
    # ``tierstream sample --end`` moves the whole history; 56 years back from 2026-11-01 with 400
    # days of history starts in 1969 and crosses the epoch. Scored in one process and in two.
    from tierstream.streams.dev.sample import DEFAULT_END, write_sample
    from tierstream.streams.offline.scoring import score_file

    results = []
    for end, workers in ((DEFAULT_END, 1), (DEFAULT_END - 2 * YEARS_28, 2)):
        path = tmp_path / f"s-{end.year}.jsonl"
        write_sample(path, customers=150, suppliers=20, days=400, seed=4, end=end)
        changes = io.BytesIO()
        res = score_file(path, load_rules(), workers=workers, changes_out=changes)
        state = io.BytesIO()
        res.write_state(state)
        results.append((state.getvalue().decode(), changes.getvalue().decode(), res.report.rejects))
    (state_now, changes_now, rejects_now), (state_old, changes_old, rejects_old) = results
    assert "1969-" in changes_old and state_old
    assert (_dates_back(state_now, 56), _dates_back(changes_now, 56), rejects_now) == (
        state_old, changes_old, rejects_old)
