"""Issue 13, point 3: the HTML reports of ``score`` and ``rules diff``, and ``--format table|csv|json``.

The history is built by hand, so are the figures (default rules; as of the last event, March 21).
Customers order at 12:00 on the days of March given; each order has a cost:

* c1 orders 1,000 (cost 600) on days 1, 11 and 21; c2 the same, with a profile in group retail
  (day 2). Day 1: recency 100, frequency 1 -> 25, revenue 1,000 -> 30, profit 400 -> 42.5,
  referrals 0; weights 0.2 + 0.15 + 0.2 + 0.2 + 0.1 = 0.85: (20 + 3.75 + 6 + 8.5) / 0.85 = 45.00
  -> general (first grading). Day 21: frequency 3 -> 55, revenue 3,000 -> 53.75, profit 1,200 ->
  58.4: (20 + 8.25 + 10.75 + 11.68) / 0.85 = 59.62, still general: one change each (- -> general).
* c3 orders 1,000 (cost 600) on day 21 only: 45.00 -> general (- -> general).
* c4 orders 20,000 (cost 10,000) on days 1 and 3. Day 1: revenue -> 85, profit 10,000 -> 91.67:
  (20 + 3.75 + 17 + 18.33) / 0.85 = 69.51 -> general. Day 3: frequency 2 -> 40, revenue 40,000
  -> 95, profit 20,000 -> 100: (20 + 6 + 19 + 20) / 0.85 = 76.47 -> key (general -> key). Day 21:
  recency 18 days -> 91: (18.2 + 6 + 19 + 20) / 0.85 = 74.35, key.
* c5 has a profile in group retail on day 2 and no order: ungraded (- -> ungraded, "no order yet");
  it orders 1,000 (cost 600) on day 21: 45.00 -> general (ungraded -> general), its first grading.
* s1 delivers 10 of 10, all accepted, a day early (day 5): quality, on-time and accuracy 100 over
  the weights 0.7: 100 -> excellent (- -> excellent).
* s2 delivers the same on days 6 (a day late), 8 and 10 (a day early). Day 6: on time 0 -> 0:
  (30 + 0 + 15) / 0.7 = 64.29 -> qualified; day 8 on time 1/2 -> 0, the same; day 10: on time 2/3
  -> 50 x (0.1667 / 0.3) = 27.78: (30 + 6.94 + 15) / 0.7 = 74.21 -> good (qualified -> good).

So: customers general 4, key 1; suppliers excellent 1, good 1. Transitions: customer - -> general
4, - -> ungraded 1, general -> key 1, ungraded -> general 1; supplier - -> excellent 1, - ->
qualified 1, qualified -> good 1 (10 changes). Movers (tier changes after the first grading, then
score move): customers c4 (1, +4.84), c1 and c2 (0, +14.62); c3 and c5 did not move (45 -> 45: the
ungraded c5 had no score to move from); suppliers s2 (1, +9.92); s1 did not move.
RFM (recency 90, frequency 3, revenue 2,000): c1, c2 important_value (general), c3, c5
general_development (general), c4 important_development (key, two orders). Groups: c2, c5 retail,
the others none (``-``).

NEW rules (version recency-30): customer recency weight 0.30, revenue 0.10, key from 60. c1 and c2
on day 11: recency 100, frequency 40, revenue 50, profit 53.6: (30 + 6 + 5 + 10.72) / 0.85 = 60.85
-> key ("score 60.9 reached key"); kept by hysteresis through the quiet days (above 60 - 5); day 21:
(30 + 8.25 + 5.375 + 11.68) / 0.85 = 65.06. c3: (30 + 3.75 + 3 + 8.5) / 0.85 = 53.24, general;
c4: (27.3 + 6 + 9.5 + 20) / 0.85 = 73.88, key; c5 as c3. Suppliers unchanged. OLD -> NEW: customer
general -> key 2 (c1, c2: 59.62 -> 65.06, +5.44), general -> general 2, key -> key 1; supplier excellent ->
excellent 1, good -> good 1.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import orjson
import pytest
import yaml

from tests.offline_cli.helpers import invoke
from tests.offline_cli.html_page import Page, read_page
from tierstream.streams.assets import CHART_JS, asset_text
from tierstream.streams.offline.report_data import ChangeTally
from tierstream.streams.offline.report_html import render, score_page

T = "2026-03-{:02d}T12:00:00Z"


def _events(path: Path) -> Path:
    lines: list[dict[str, object]] = []

    def order(cust: str, i: int, day: int, amount: int, cost: int) -> None:
        lines.append({"type": "order", "event_id": f"{cust}-{i}", "occurred_at": T.format(day),
                      "order_id": f"{cust}-{i}", "customer_id": cust, "amount": amount, "cost": cost})

    def delivery(sup: str, i: int, day: int, promised: int) -> None:
        lines.append({"type": "delivery", "event_id": f"{sup}-{i}", "occurred_at": T.format(day),
                      "supplier_id": sup, "order_id": f"{sup}-po{i}", "promised_at": T.format(promised),
                      "quantity_ordered": 10, "quantity_delivered": 10, "quantity_accepted": 10})

    for cust in ("c1", "c2"):
        for i, day in enumerate((1, 11, 21)):
            order(cust, i, day, 1000, 600)
    order("c3", 0, 21, 1000, 600)
    order("c4", 0, 1, 20000, 10000)
    order("c4", 1, 3, 20000, 10000)
    for cust in ("c2", "c5"):
        lines.append({"type": "profile", "event_id": f"p-{cust}", "occurred_at": T.format(2),
                      "entity_type": "customer", "entity_id": cust, "group": "retail"})
    order("c5", 0, 21, 1000, 600)
    delivery("s1", 0, 5, 6)
    delivery("s2", 0, 6, 5)
    delivery("s2", 1, 8, 9)
    delivery("s2", 2, 10, 11)
    lines.sort(key=lambda line: str(line["occurred_at"]))
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _events(tmp_path_factory.mktemp("report") / "events.jsonl")


@pytest.fixture(scope="module")
def new_rules(events: Path, default_rules_path: Path) -> Path:
    doc = yaml.safe_load(default_rules_path.read_text("utf-8"))
    doc["version"] = "recency-30"
    doc["customer"]["dimensions"]["recency"]["weight"] = 0.30
    doc["customer"]["dimensions"]["monetary"]["weight"] = 0.10
    doc["customer"]["tiers"][0]["min_score"] = 60
    path = events.parent / "recency30.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def _self_contained(page: Page) -> None:
    """Nothing is fetched: no external src or href, no stylesheet link, no script file; Chart.js is inlined."""
    assert not [r for r in page.refs if re.match(r"(?i)\s*(https?:)?//", r[2])], page.refs
    assert not [r for r in page.refs if r[1] == "src"], page.refs  # nothing loaded at all
    assert [r[2] for r in page.refs if r[1] == "href"] == ["#customer", "#supplier"]
    assert not [link for link in page.links if "stylesheet" in str(link.get("rel"))]
    assert "style" in page.tags
    chart_js = asset_text(CHART_JS).strip()
    assert [text for _, text in page.scripts if text.strip() == chart_js], "Chart.js is not inlined"


def test_score_report(events: Path, tmp_path: Path) -> None:
    report, changes = tmp_path / "report.html", tmp_path / "changes.jsonl"
    res = invoke("score", events, "--report", report, "--changes", changes, "--workers", "2")
    assert res.exit_code == 0, res.stderr
    assert f"report: {report}" in res.stderr
    assert len(changes.read_bytes().splitlines()) == 10  # the report's tally passes every change on
    page = read_page(report.read_text("utf-8"))
    _self_contained(page)
    assert page.facts["rules"] == "2026.11-default"
    assert page.facts["as of"] == "2026-03-21T12:00:00Z"
    assert page.facts["events"] == str(events)
    assert (page.facts["entities"], page.facts["lines read"], page.facts["tier changes"]) == ("7", "16", "10")

    assert page.table("customer", "Tier distribution").body == [["key", "1", "20.0%"], ["general", "4", "80.0%"]]
    assert page.table("supplier", "Tier distribution").body == [["excellent", "1", "50.0%"], ["good", "1", "50.0%"]]

    matrix = page.table("customer", "Transition matrix")
    assert matrix.header == ["from \\ to", "key", "general", "ungraded", "total"]
    assert matrix.body == [["-", "0", "4", "1", "5"], ["general", "1", "0", "0", "1"], ["ungraded", "0", "1", "0", "1"]]
    matrix = page.table("supplier", "Transition matrix")
    assert matrix.header == ["from \\ to", "excellent", "good", "qualified", "total"]
    assert matrix.body == [["-", "1", "0", "1", "2"], ["qualified", "0", "1", "0", "1"]]

    movers = page.table("customer", "Top movers").body
    assert [m[:7] for m in movers] == [
        ["c4", "general", "key", "69.51", "74.35", "+4.84", "1"],
        ["c1", "general", "general", "45.00", "59.62", "+14.62", "0"],
        ["c2", "general", "general", "45.00", "59.62", "+14.62", "0"],
    ]
    assert movers[0][7].startswith("general -> key on 2026-03-03 score 76.5 reached key (minimum 70)")
    assert movers[1][7].startswith("- -> general on 2026-03-01 first grading: score 45.0 places it in general")
    movers = page.table("supplier", "Top movers").body
    assert [m[:7] for m in movers] == [["s2", "qualified", "good", "64.29", "74.21", "+9.92", "1"]]
    assert movers[0][7].startswith("qualified -> good on 2026-03-10 score 74.2 reached good (minimum 70)")

    segments = page.table("customer", "Tiers by RFM segment")
    assert segments.rows == [["segment", "key", "general", "total"], ["general_development", "0", "2", "2"],
                             ["important_development", "1", "0", "1"], ["important_value", "0", "2", "2"]]
    assert page.table("customer", "Tiers by group").rows == [
        ["group", "key", "general", "total"], ["retail", "0", "2", "2"], ["-", "1", "2", "3"]]
    assert not [t for t in page.tables if t.section == "supplier" and t.heading.startswith("Tiers by")]


def test_rules_diff_report(events: Path, default_rules_path: Path, new_rules: Path, tmp_path: Path) -> None:
    report = tmp_path / "diff.html"
    res = invoke("rules", "diff", default_rules_path, new_rules, events, "--report", report, "--workers", "2")
    assert res.exit_code == 0, res.stderr
    assert "7 entities, 2 would move" in res.stdout
    page = read_page(report.read_text("utf-8"))
    _self_contained(page)
    assert (page.facts["OLD rules"], page.facts["NEW rules"]) == ("2026.11-default", "recency-30")
    assert (page.facts["as of"], page.facts["entities"], page.facts["would move"]) == (
        "2026-03-21T12:00:00Z", "7", "2")

    dist = page.table("customer", "Tier distribution")
    assert dist.rows == [["tier", "OLD", "NEW", "change"], ["key", "1", "3", "+2"], ["general", "4", "2", "-2"]]
    assert page.table("supplier", "Tier distribution").body == [["excellent", "1", "1", "0"], ["good", "1", "1", "0"]]

    matrix = page.table("customer", "Transition matrix")
    assert matrix.header == ["from \\ to", "key", "general", "total"]
    assert matrix.body == [["key", "1", "0", "1"], ["general", "2", "2", "4"]]
    assert page.table("supplier", "Transition matrix").body == [["excellent", "1", "0", "1"], ["good", "0", "1", "1"]]

    movers = page.table("customer", "Top movers").body
    assert [m[:6] for m in movers] == [["c1", "general", "key", "59.62", "65.06", "+5.44"],
                                       ["c2", "general", "key", "59.62", "65.06", "+5.44"]]
    for m in movers:
        assert m[6].startswith("- -> general on 2026-03-01 first grading: score 45.0 places it in general")  # OLD
        assert m[7].startswith("general -> key on 2026-03-11 score 60.9 reached key (minimum 60)")  # NEW
    assert not [t for t in page.tables if t.section == "supplier" and t.heading.startswith("Top movers")]

    assert page.table("customer", "Tiers by RFM segment", "OLD").body == [
        ["general_development", "0", "2", "2"], ["important_development", "1", "0", "1"],
        ["important_value", "0", "2", "2"]]
    assert page.table("customer", "Tiers by RFM segment", "NEW").body == [
        ["general_development", "0", "2", "2"], ["important_development", "1", "0", "1"],
        ["important_value", "2", "0", "2"]]
    assert page.table("customer", "Tiers by group", "NEW").body == [["retail", "1", "1", "2"], ["-", "2", "1", "3"]]


def test_the_report_escapes_what_the_data_says() -> None:
    rows = [(("customer", "<b>x</b>"), "general", b'{"score": 50.0, "segment": "<i>s</i>", "group": null}')]
    tally = ChangeTally()
    for tier, before, score in (("potential", None, 30.0), ("general", "potential", 50.0)):
        tally.add({"entity_type": "customer", "entity_id": "<b>x</b>", "tier": tier, "previous_tier": before,
                   "score": score, "occurred_at": "2026-03-01T00:00:00Z", "reasons": ["<script>alert(1)</script>"]})
    from tierstream.schemas.rules import load_rules

    html = render(score_page(Path("<e>.jsonl"), load_rules(), 0, rows, tally, 2, 0))
    page = read_page(html)
    assert "b" not in page.tags and "i" not in page.tags and "e" not in page.tags
    assert len([t for t in page.tags if t == "script"]) == 3  # the charts' data, Chart.js, the report's own
    assert page.table("customer", "Top movers").body[0][0] == "<b>x</b>"
    assert "<script>alert(1)</script>" in page.table("customer", "Top movers").body[0][7]
    assert page.table("customer", "Tiers by RFM segment").body == [["<i>s</i>", "1", "1"]]


def test_the_report_of_nothing_says_so() -> None:
    from tierstream.schemas.rules import load_rules

    html = render(score_page(Path("empty.jsonl"), load_rules(), 0, [], ChangeTally(), 0, 0))
    page = read_page(html)
    assert page.tables == [] and page.facts["entities"] == "0"
    assert "No entity was graded" in html
    assert "canvas" not in page.tags


# --- --format: the same rows as the table -------------------------------------------------


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _json(text: str) -> list[list[str]]:
    rows = json.loads(text)
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    return [list(rows[0])] + [[str(v) for v in r.values()] for r in rows] if rows else []


def _table(text: str, pattern: str) -> list[list[str]]:
    return [list(m.groups()) for m in re.finditer(pattern, text, re.M)]


@pytest.mark.parametrize("by", [None, "segment"])
def test_score_formats_give_the_table_rows(events: Path, by: str | None) -> None:
    extra = ["--workers", "1"] + ([] if by is None else ["--by", by])
    table = invoke("score", events, *extra)
    as_csv = invoke("score", events, *extra, "--format", "csv")
    as_json = invoke("score", events, *extra, "--format", "json")
    assert table.exit_code == as_csv.exit_code == as_json.exit_code == 0
    assert table.stdout == ""  # the table is for people: on stderr with the summary
    if by is None:
        rows = _table(table.stderr, r"^  (customer|supplier) +(\S+) +(\d+)$")
        assert rows == [["customer", "general", "4"], ["customer", "key", "1"],
                        ["supplier", "excellent", "1"], ["supplier", "good", "1"]]
        header = ["entity_type", "tier", "count"]
    else:
        rows = _table(table.stderr, r"^  (customer|supplier) +(\S+) +(\S+) +(\d+)$")
        assert rows == [["customer", "general_development", "general", "2"],
                        ["customer", "important_development", "key", "1"],
                        ["customer", "important_value", "general", "2"],
                        ["supplier", "-", "excellent", "1"], ["supplier", "-", "good", "1"]]
        header = ["entity_type", "segment", "tier", "count"]
    assert _csv(as_csv.stdout) == [header, *rows]
    assert _json(as_json.stdout) == [header, *rows]
    assert json.loads(as_json.stdout)[0]["count"] == int(rows[0][-1])  # numbers stay numbers


def test_rules_diff_formats_give_the_table_rows(events: Path, default_rules_path: Path, new_rules: Path) -> None:
    args: list[str | Path] = ["rules", "diff", default_rules_path, new_rules, events, "--workers", "1"]
    table = invoke(*args)
    assert table.exit_code == 0
    dist = _table(table.stdout, r"^  (customer|supplier) +(\S+) +(\d+) +(\d+) +([+-]\d+)$")
    assert dist == [["customer", "general", "4", "2", "-2"], ["customer", "key", "1", "3", "+2"],
                    ["supplier", "excellent", "1", "1", "+0"], ["supplier", "good", "1", "1", "+0"]]
    movers = _table(table.stdout, r"^  (customer|supplier) (\S+): (\S+) -> (\S+) \(score (\S+) -> (\S+)\)$")
    assert movers == [["customer", "c1", "general", "key", "59.62", "65.06"],
                      ["customer", "c2", "general", "key", "59.62", "65.06"]]
    for fmt, read in (("csv", _csv), ("json", _json)):
        got = invoke(*args, "--format", fmt)
        assert got.exit_code == 0
        numbers = [[*r[:-1], str(int(r[-1]))] for r in dist]  # +2 in the table, 2 as a number
        assert read(got.stdout) == [["entity_type", "tier", "before", "after", "delta"], *numbers]
        assert read(invoke(*args, "--format", fmt, "--table", "distribution").stdout) == read(got.stdout)
        assert read(invoke(*args, "--format", fmt, "--table", "movers").stdout) == [
            ["entity_type", "entity_id", "from", "to", "score_before", "score_after"], *movers]
    only = invoke(*args, "--table", "movers").stdout
    assert "movers (largest score change first):" in only and "before    after" not in only
