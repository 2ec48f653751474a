"""Issue 12, points 5 and 6 offline: tier distributions by a profile attribute, and the loyalty counts.

The history is built by hand, so the counts are too (default rules, graded as of the last event):

* c1 and c2 order 1,000 (cost 600) on days 0, 10 and 20: recency 0 -> 100, frequency 3 -> 55,
  revenue 3,000 -> 50 + 30 x 1,000/8,000 = 53.75, profit 1,200 -> 50 + 30 x 700/2,500 = 58.4,
  referrals 0; weights 0.2 + 0.15 + 0.2 + 0.2 + 0.1 = 0.85 (no credit evidence):
  (20 + 8.25 + 10.75 + 11.68 + 0) / 0.85 = 50.68 / 0.85 = 59.62 -> general; cv 0, no referral -> potentially loyal.
* c3 orders once (day 20): recency 100, frequency 25, revenue 1,000 -> 20 + 30 x 500/1,500 = 30,
  profit 400 -> 20 + 30 x 300/400 = 42.5: (20 + 3.75 + 6 + 8.5) / 0.85 = 45 -> general; one
  purchase day, no cv -> disloyal.
* c1 is a chain in the north, c2 a franchise in the north, c3 has no profile; s1, a supplier with a
  delivery and a manufacturer's profile, is excellent (everything on time and accepted).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.offline_cli.helpers import invoke
from tierstream.streams.offline.scoring import score_file

T = "2026-03-{:02d}T12:00:00Z"


def _events(path: Path) -> Path:
    lines: list[dict[str, object]] = []
    for cust in ("c1", "c2", "c3"):
        for i, day in enumerate((1, 11, 21) if cust != "c3" else (21,)):
            lines.append({"type": "order", "event_id": f"{cust}-{i}", "occurred_at": T.format(day),
                          "order_id": f"{cust}-{i}", "customer_id": cust, "amount": 1000, "cost": 600})
    lines += [
        {"type": "profile", "event_id": "p1", "occurred_at": T.format(2), "entity_type": "customer",
         "entity_id": "c1", "business_nature": "chain", "attributes": {"region": "north"}},
        {"type": "profile", "event_id": "p2", "occurred_at": T.format(2), "entity_type": "customer",
         "entity_id": "c2", "business_nature": "franchise", "attributes": {"region": "north"}},
        {"type": "delivery", "event_id": "d1", "occurred_at": T.format(5), "supplier_id": "s1", "order_id": "po1",
         "promised_at": T.format(6), "quantity_ordered": 10, "quantity_delivered": 10, "quantity_accepted": 10},
        {"type": "profile", "event_id": "p3", "occurred_at": T.format(3), "entity_type": "supplier",
         "entity_id": "s1", "business_nature": "manufacturer", "attributes": {"region": "south"}},
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_tiers_by_a_profile_field_and_a_free_attribute(tmp_path: Path) -> None:
    result = score_file(_events(tmp_path / "events.jsonl"), workers=1)
    assert result.tiers() == {("customer", "general"): 3, ("supplier", "excellent"): 1}
    assert result.tiers(by="business_nature") == {
        ("customer", "chain", "general"): 1, ("customer", "franchise", "general"): 1,
        ("customer", "-", "general"): 1, ("supplier", "manufacturer", "excellent"): 1,
    }
    assert result.tiers(by="region") == result.tiers(by="attributes.region") == {
        ("customer", "north", "general"): 2, ("customer", "-", "general"): 1,
        ("supplier", "south", "excellent"): 1,
    }
    assert result.tiers(by="loyalty") == {
        ("customer", "potentially_loyal", "general"): 2, ("customer", "disloyal", "general"): 1,
        ("supplier", "-", "excellent"): 1,
    }
    assert result.loyalty() == {"potentially_loyal": 2, "disloyal": 1}
    scores = {s.entity_id: s.score for s in result.snapshots()}
    assert (scores["c1"], scores["c3"]) == (59.62, 45.0)


def test_score_and_rules_diff_by_an_attribute(tmp_path: Path, default_rules_path: Path) -> None:
    events = _events(tmp_path / "events.jsonl")
    res = invoke("score", events, "--by", "business_nature", "--workers", "2")
    assert res.exit_code == 0, res.output
    assert "  customer  chain                general             1" in res.output
    assert "  customer  -                    general             1" in res.output
    assert "  supplier  manufacturer         excellent           1" in res.output
    assert "loyalty of the 3 customers with an order: loyal 0, potentially_loyal 2, disloyal 1" in res.output
    res = invoke("rules", "diff", default_rules_path, default_rules_path, events, "--by", "region", "--json")
    assert res.exit_code == 0, res.output
    doc = orjson.loads(res.output)
    assert doc["by"] == "region"
    assert doc["before"] == doc["after"] == {
        "customer/-/general": 1, "customer/north/general": 2, "supplier/south/excellent": 1,
    }
