"""The audit trail and the review on a running worker (issue 12, point 8): the real broker, the real Redis.

Published: an override of s1 to ``good`` (sent twice: one event id), an override of s1 to
``gold`` (not a supplier tier: refused, dead-lettered) and a prospect score for c1.
``GET /audit`` serves each assessment once, with its status; the tier history names the
rules version of each change; ``GET /review`` lists the override expiring 5 days after the
worker's latest event time (2025-01-10T00:00Z + 5 days = 2025-01-15) and the prospect
expiring 9 days after it, not the 40-day one; so does ``tierstream review`` without a file.
``tierstream score --audit`` of the same lines writes exactly the records the audit trails store.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.streaming import Stream, poll
from tierstream.schemas.rules import load_rules
from tierstream.streams.cli.main import main
from tierstream.streams.client import publish
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

pytestmark = pytest.mark.integration


def _assessment(eid: str, kind: str, eid_of: str, expires: str, **judgement: Any) -> bytes:
    return json.dumps({"type": "assessment", "event_id": eid, "occurred_at": "2025-01-10T00:00:00Z",
                       "entity_type": kind, "entity_id": eid_of, "reason": f"review {eid}", "author": "ana",
                       "expires_at": expires, **judgement}).encode()


LINES = [
    _assessment("a1", "supplier", "s1", "2025-01-15T00:00:00Z", tier_override="good"),
    _assessment("a1", "supplier", "s1", "2025-01-15T00:00:00Z", tier_override="good"),  # a duplicate
    _assessment("a2", "supplier", "s1", "2025-01-20T00:00:00Z", tier_override="gold"),  # refused
    _assessment("p1", "customer", "c1", "2025-01-19T00:00:00Z", prospect_score=75),
    _assessment("p2", "customer", "c2", "2025-02-19T00:00:00Z", prospect_score=50),  # 40 days away
]



def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_audit_keeps_each_assessment_once_with_its_status(stream: Stream, tmp_path: Path) -> None:
    worker = stream.start_worker()
    assert publish(stream.settings, enumerate(LINES, 1)).failed == 0

    def trail(kind: str, eid: str, n: int) -> list[dict[str, Any]] | None:
        status, body = _get(worker.port, f"/audit/{kind}/{eid}")
        return body["assessments"] if status == 200 and len(body["assessments"]) >= n else None

    s1 = poll(lambda: trail("supplier", "s1", 2), 20, "s1's two assessments in its audit trail")
    assert sorted((e["event_id"], e["value"], e["status"]) for e in s1) == [
        ("a1", "good", "accepted"),
        ("a2", "gold",
         "refused: tier_override 'gold' is not a supplier tier (excellent, good, qualified, unqualified)"),
    ]
    assert {(e["kind"], e["author"], e["occurred_at"]) for e in s1} == {
        ("tier_override", "ana", "2025-01-10T00:00:00Z")}
    (c1,) = poll(lambda: trail("customer", "c1", 1), 20, "c1's prospect assessment")
    assert (c1["kind"], c1["value"], c1["expires_at"], c1["status"]) == (
        "prospect_score", 75.0, "2025-01-19T00:00:00Z", "accepted")
    assert _get(worker.port, "/audit/customer/nobody")[0] == 404
    assert _get(worker.port, "/audit/widget/s1")[0] == 400

    # the tier history: every change names the rules version it was graded under
    def history() -> dict[str, Any] | None:
        status, body = _get(worker.port, "/tiers/supplier/s1/history")
        return body if status == 200 else None

    hist = poll(history, 20, "s1's tier history")
    assert [(c["tier"], c["rules_version"]) for c in hist["changes"]] == [("good", load_rules().version)]

    status, review = _get(worker.port, "/review?within_days=14")
    assert status == 200 and review["as_of"] == "2025-01-10T00:00:00Z"
    assert [(r["due_date"], r["entity_id"], r["kind"]) for r in review["rows"]] == [
        ("2025-01-15", "s1", "assessment_expiring"), ("2025-01-19", "c1", "assessment_expiring")]
    assert _get(worker.port, "/review?within_days=soon")[0] == 400
    assert _get(worker.port, "/review?as_of=yesterday")[0] == 400
    assert [r["entity_id"] for r in _get(worker.port, "/review?within_days=40&entity_type=customer")[1]["rows"]] == [
        "c1", "c2"]

    # the CLI without a file: the service's state from the table's changelog, every partition
    env = {k: v for k, v in stream.env(worker.port).items() if k.startswith("TIERSTREAM_")}
    result = CliRunner().invoke(main, ["review", "--format", "json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == review["rows"]

    # offline, the same lines: the audit file holds what the stream's audit trails store, each record once
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    buf = io.BytesIO()
    run(OfflineScorer(load_rules()), read_lines(path), audit_out=buf)
    offline = [json.loads(line) for line in buf.getvalue().splitlines()]
    c2 = poll(lambda: trail("customer", "c2", 1), 20, "c2's prospect assessment")
    stored = [*s1, c1, *c2]
    assert sorted(offline, key=lambda e: e["event_id"]) == sorted(stored, key=lambda e: e["event_id"])
    assert [e["event_id"] for e in offline] == ["a1", "a2", "p1", "p2"]  # in file order, a1 once
