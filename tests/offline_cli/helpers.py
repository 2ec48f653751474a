"""The golden summary of the seed-3 sample, and ``tierstream`` run through click's CliRunner."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner, Result

from tierstream.streams.cli.main import main

__all__ = [
    "CUSTOMER_AGGREGATES", "GOLDEN_AS_OF", "GOLDEN_ENTITIES", "GOLDEN_REJECTED", "GOLDEN_TIERS", "REJECTED",
    "SAMPLE_ARGS", "SNAPSHOT_KEYS", "SUPPLIER_AGGREGATES", "Scored", "distribution", "invoke", "score",
]


SAMPLE_ARGS = ["--customers", "300", "--suppliers", "40", "--days", "120", "--seed", "3"]

# Golden summary of ``tierstream score`` on the seed-3 sample with the default rules.
# To regenerate (after a deliberate change to the sample generator, the rules or the
# scorers), run
#     tierstream sample --customers 300 --suppliers 40 --days 120 --seed 3 --out /tmp/s3.jsonl
#     tierstream score /tmp/s3.jsonl
# and copy the entity count and the tier distribution it prints on stderr (the last lines).
GOLDEN_ENTITIES = 234
# (Since amounts are converted to the base currency: the sample's USD customers count their
# revenue at the rules' 7.0 CNY per USD, which lifts some from potential to general and from
# general to key. Since invoices exist: the sample's invoices, partial payments and unpaid
# invoices, and the default credit dimensions of days late and overdue amount. Since
# hysteresis counts calendar days: customers held in general through quiet days. Since
# retractions and real deliveries: partial returns, place-and-cancel referrals, deliveries of
# nothing and over-deliveries, open tickets.)
GOLDEN_TIERS = {
    ("customer", "general"): 119,
    ("customer", "key"): 10,
    ("customer", "potential"): 59,
    ("customer", "ungraded"): 6,
    ("supplier", "excellent"): 15,
    ("supplier", "good"): 8,
    ("supplier", "qualified"): 11,
    ("supplier", "unqualified"): 6,
}
GOLDEN_AS_OF = "2026-10-31T22:39:49Z"  # the latest valid event in the sample
GOLDEN_REJECTED = 2  # invalid lines the generator wrote (invalid_ratio 0.2%)

CUSTOMER_AGGREGATES = {
    "order_count", "revenue", "gross_profit", "first_order_at", "last_order_at", "late_payments",
    "avg_days_late", "qualified_referrals",
}
SUPPLIER_AGGREGATES = {
    "deliveries", "on_time_rate", "fill_rate", "quality_pass_rate", "price_index", "avg_first_response_hours",
}
SNAPSHOT_KEYS = {
    "entity_type", "entity_id", "tier", "score", "segment", "loyalty", "group", "profile", "components",
    "aggregates", "window",
    "next_tier", "as_of", "rules_version", "ungraded_reason", "actions", "notices", "open_case",
}
REJECTED = re.compile(r"^rejected (?P<file>.+):line (?P<line>\d+): (?P<what>[a-z_]+(\.[a-z_]+)?): ")


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@dataclass
class Scored:
    result: Result
    state: Path
    changes: Path

    def snapshots(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.state.read_bytes().splitlines()]


def score(events: Path, out_dir: Path, *extra: str | Path) -> Scored:
    out_dir.mkdir(parents=True, exist_ok=True)
    state, changes = out_dir / "STATE.jsonl", out_dir / "CHANGES.jsonl"
    result = invoke("score", events, "--out", state, "--changes", changes, *extra)
    return Scored(result, state, changes)


def distribution(snaps: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return dict(Counter((s["entity_type"], s["tier"]) for s in snaps))
