"""``tierstream sources check`` and ``tierstream score --sources`` on captured messages (issue 11, points 3-5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.offline_cli.helpers import invoke

SOURCES = """
sources:
  erp:
    topics: [erp.orders.v1]
    type: order
    fields:
      order_id: {path: id, transform: string}
      customer_id: customer.code
      amount: {path: total_cents, transform: cents}
      occurred_at: {path: created_ms, transform: epoch_ms}
      status: {path: state, map: {NEW: placed, CANCELED: cancelled}}
    event_id_from: [order_id, status]
  shop:
    topics: [shop.public.orders]
    format: debezium
    type: order
    fields: {order_id: id, customer_id: customer_id, amount: {path: amount, transform: number}}
"""
DAY = 86_400_000  # ms


def capture(topic: str, value: Any, key: str | None = None) -> str:
    return json.dumps({"topic": topic, "key": key, "value": value})


def erp(n: int, cents: Any, day: int, state: str = "NEW") -> str:
    # day 19,723 after 1970-01-01 is 2024-01-01
    return capture("erp.orders.v1", {"id": n, "customer": {"code": "acme"}, "total_cents": cents,
                                     "created_ms": (19_723 + day) * DAY, "state": state}, key=f"O-{n}")


def shop(op: str, row: dict[str, Any], day: int) -> str:
    return capture("shop.public.orders", {"schema": None, "payload": {
        "op": op, "before": row if op == "d" else None, "after": None if op == "d" else row,
        "source": {"ts_ms": (19_723 + day) * DAY}}})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (src := tmp_path / "sources.yaml").write_text(SOURCES)
    lines = [
        erp(1, 100_000, 0),                      # acme: 1,000.00 on 2024-01-01
        erp(2, 50_050, 1),                       # acme: 500.50 on 2024-01-02
        erp(2, 50_050, 2, state="CANCELED"),     # ... cancelled: acme keeps order 1 only
        erp(3, "12x", 2),                        # not an amount: rejected, line 4
        shop("c", {"id": "w1", "customer_id": "wing", "amount": "300.00"}, 0),
        shop("c", {"id": "w2", "customer_id": "wing", "amount": 200}, 1),
        shop("d", {"id": "w2", "customer_id": "wing", "amount": 200}, 2),   # a delete retracts w2
        capture("shop.public.orders", None),     # its tombstone: nothing
        capture("tierstream.orders", {"type": "order", "event_id": "t1", "occurred_at": "2024-01-02T00:00:00Z",
                                      "order_id": "t1", "customer_id": "wing", "amount": 25}),  # taken as it is
    ]
    (events := tmp_path / "captured.jsonl").write_text("\n".join(lines) + "\n")
    return src, events


def test_sources_check_shows_what_each_line_becomes(files: tuple[Path, Path]) -> None:
    src, events = files
    result = invoke("sources", "check", src, events)
    assert result.exit_code == 1  # one line fails
    out = result.output
    assert 'line 1: order for customer acme: {"type":"order","order_id":"1","customer_id":"acme","amount":1000.0' in out
    assert "line 4: mapping_error: source 'erp': amount: cents: expected a number or a numeric string" in out
    assert "line 8: grades nothing" in out
    assert "7 mapped, 1 grading nothing, 1 failed" in out
    listing = invoke("sources", "check", src)
    assert listing.exit_code == 0 and "erp: erp.orders.v1 (plain, order)" in listing.output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_score_sources_grades_what_the_mapping_gives(files: tuple[Path, Path], tmp_path: Path, workers: str) -> None:
    src, events = files
    out, rejects = tmp_path / "state.jsonl", tmp_path / "rejects.jsonl"
    result = invoke("score", events, "--sources", src, "--out", out, "--rejects", rejects, "--workers", workers)
    assert result.exit_code == 0, result.output
    state = {s["entity_id"]: s["aggregates"] for s in map(orjson.loads, out.read_bytes().splitlines())}
    # acme: order 1 (1,000.00) stays, order 2 placed and cancelled is as if never placed
    assert (state["acme"]["order_count"], state["acme"]["revenue"]) == (1, 1000.0)
    # wing: w1 300.00 + t1 25 (its own layout); w2 inserted and deleted
    assert (state["wing"]["order_count"], state["wing"]["revenue"]) == (2, 325.0)
    rejected = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [(r["line"], r["kind"], r["field"]) for r in rejected] == [(4, "mapping_error", "amount")]
    assert "1 rejected" in result.output


def test_a_bad_sources_file_ends_the_command_with_its_place(tmp_path: Path) -> None:
    (bad := tmp_path / "bad.yaml").write_text("sources:\n  a: {topics: [t], type: order, fields: {amout: x}}\n")
    result = invoke("sources", "check", bad)
    assert result.exit_code == 1
    assert "bad.yaml: invalid sources:" in result.output and "fields.amout: not a field of order" in result.output
