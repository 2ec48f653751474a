"""A running worker as its users see it: HTTP views, metrics, rules reload, the authenticated write path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.streaming import Stream, poll
from tests.webcall import request
from tierstream.schemas.rules import load_rules
from tierstream.streams.client import publish
from tierstream.streams.dev.broker import EmbeddedBroker

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token-123"


def http(port: int, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, Any]:
    status, _, raw = request(port, path, body, token)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


@pytest.fixture
def service(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[tuple[Stream, int, Path]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(Path(load_rules.__code__.co_filename).with_name("default_rules.yaml").read_text())
    s = Stream(broker.bootstrap, tmp_path)
    s.create_topics()
    port = s.start_worker(extra_env={"TIERSTREAM_RULES": str(rules), "TIERSTREAM_ADMIN_TOKEN": TOKEN}).port
    yield s, port, rules
    s.stop_workers()


def tier_of(port: int, entity_type: str, entity_id: str) -> dict[str, Any] | None:
    """The entity's current tier from the HTTP API, or None while it has none."""
    status, doc = http(port, f"/tiers/{entity_type}/{entity_id}")
    return doc if status == 200 and isinstance(doc, dict) else None


def order(eid: str, cid: str, amount: float, day: int = 1) -> bytes:
    return json.dumps({"type": "order", "event_id": eid, "occurred_at": f"2026-10-{day:02d}T10:00:00Z",
                       "order_id": "o" + eid, "customer_id": cid, "amount": amount, "cost": amount / 2}).encode()


def test_current_tier_history_health_and_metrics(service: tuple[Stream, int, Path]) -> None:
    s, port, _ = service
    publish(s.settings, enumerate([order("e1", "c1", 20_000), order("e2", "c1", 30_000, 2)], 1))
    current = poll(lambda: tier_of(port, "customer", "c1"), 60, "c1 in the tier store")
    assert current["tier"] in {t.name for t in load_rules().customer.tiers}
    assert current["reasons"] and current["components"]
    status, hist = http(port, "/tiers/customer/c1/history")
    assert status == 200 and hist["changes"]
    assert http(port, "/tiers/customer/nobody")[0] == 404
    assert http(port, "/tiers/planet/c1")[0] == 400
    status, health = http(port, "/health")
    assert status == 200 and health["ready"] and health["rules_error"] is None
    assert health["engine"] in ("interpreted", "compiled")  # which grading engine runs (streams/engine)
    status, metrics = http(port, "/metrics")
    assert status == 200 and f'tierstream_events_in_total{{topic="{s.name}.orders"}} 2.0' in metrics


def test_bad_rules_refused_and_running_rules_stay(service: tuple[Stream, int, Path]) -> None:
    _, port, rules = service
    good = rules.read_text()
    broken = good.replace('version: "2026.11-default"', 'version: "broken"').replace("weight: 0.20", "weight: 0.90", 1)
    rules.write_text(broken)
    _, health = poll(lambda: (r := http(port, "/health"))[1].get("rules_error") and r, 30, "bad rules refused")
    assert "weights must sum to 1" in health["rules_error"]
    assert health["rules_version"] == "2026.11-default"  # still in force
    rules.write_text(good.replace('version: "2026.11-default"', 'version: "2026.12-new"'))
    poll(lambda: http(port, "/health")[1].get("rules_version") == "2026.12-new", 30, "the new rules")
    assert http(port, "/health")[1]["rules_error"] is None


def test_assessment_write_path_needs_the_token(service: tuple[Stream, int, Path]) -> None:
    s, port, _ = service
    body = json.dumps({"type": "assessment", "event_id": "a1", "occurred_at": "2026-10-01T09:00:00Z",
                       "entity_type": "customer", "entity_id": "c9", "tier_override": "key",
                       "reason": "strategic account", "expires_at": "2027-01-01T00:00:00Z",
                       "author": "alice"}).encode()
    assert http(port, "/assessments", body)[0] == 401
    assert http(port, "/assessments", body, token="wrong")[0] == 401
    status, err = http(port, "/assessments", b'{"type":"assessment"}', token=TOKEN)
    assert status == 400 and "event_id" in err["error"]
    status, _ = http(port, "/assessments", body, token=TOKEN)
    assert status == 202
    publish(s.settings, enumerate([order("e9", "c9", 10, 2)], 1))
    current = poll(lambda: tier_of(port, "customer", "c9"), 60, "c9 graded")
    assert current["tier"] == "key" and any("manual override by alice" in r for r in current["reasons"])
    # the override posted is in c9's audit trail, with who, why, until when and that it applied
    def audited() -> Any:
        status, body = http(port, "/audit/customer/c9")
        return body if status == 200 else None

    trail = poll(audited, 30, "c9's audit trail")
    assert [(a["author"], a["reason"], a["value"], a["expires_at"], a["status"]) for a in trail["assessments"]] == [
        ("alice", "strategic account", "key", "2027-01-01T00:00:00Z", "accepted")]
    assert TOKEN not in json.dumps(http(port, "/health")[1])
