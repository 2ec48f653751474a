"""The HTTP views, served by Faust's aiohttp app without a broker.

See tests/web_app.py for how they are served. Redis is real (the session's embedded Valkey, tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.redis_store.helpers import REDIS_URL, change, key_prefix
from tests.web_app import serve_routes
from tierstream.streams.store.redis import AsyncTierStore
from tierstream.streams.worker.metrics import METRICS_CONTENT_TYPE, ServiceMetrics
from tierstream.streams.worker.web import register_web


@pytest.fixture
def prefix() -> Iterator[str]:
    with key_prefix("tstest-web") as p:
        yield p


def serve(
    url: str,
    prefix: str,
    health: Callable[[], dict[str, object]],
    body: Callable[[Any, AsyncTierStore], Awaitable[None]],
    metrics: ServiceMetrics | None = None,
) -> None:
    serve_routes(url, prefix, lambda app, store: register_web(app, store, health, metrics or ServiceMetrics()), body)


def test_tier_and_history(prefix: str) -> None:
    async def body(client: Any, store: AsyncTierStore) -> None:
        assert await store.apply_many([change(1, entity_id="a/b"), change(2, entity_id="a/b")])

        r = await client.get("/tiers/customer/a%2Fb")
        assert r.status == 200
        data = await r.json()
        assert data["tier"] == "silver"
        assert data["seq"] == 2
        assert data["reasons"] == ["reason 2", "naïve “quotes”"]
        assert data["next_tier"]["tier"] == "diamond"
        # what the tier entitles, for a downstream system that does not know the thresholds
        assert [a["name"] for a in data["actions"]] == ["discount", "priority_service"]
        assert data["actions"][0]["value"] == 0.05
        assert (data["segment"], data["loyalty"], data["group"], data["profile"]) == (None, None, None, None)
        shown = change(3, entity_id="c/9").model_copy(update={
            "segment": "general_value", "loyalty": "loyal", "group": "retail", "profile": {"need_type": "price"}})
        assert await store.apply_many([shown])
        r = await client.get("/tiers/customer/c%2F9")
        data = await r.json()
        assert (data["segment"], data["loyalty"], data["group"], data["profile"]) == (
            "general_value", "loyal", "retail", {"need_type": "price"})

        r = await client.get("/tiers/customer/a%2Fb/history?limit=1")
        assert r.status == 200
        hist = await r.json()
        assert [c["change_id"] for c in hist["changes"]] == ["tc:customer:a/b:2"]

        r = await client.get("/tiers/customer/a%2Fb/history")
        assert len((await r.json())["changes"]) == 2

        r = await client.get("/tiers/customer/a%2Fb/history?limit=zero")
        assert r.status == 400
        assert "error" in await r.json()

        r = await client.get("/tiers/customer/unknown")
        assert r.status == 404
        assert "error" in await r.json()

        r = await client.get("/tiers/partner/x")
        assert r.status == 400
        assert "error" in await r.json()

    serve(REDIS_URL, prefix, lambda: {"ok": True}, body)


def test_redis_down_is_503_without_secret(prefix: str) -> None:
    async def body(client: Any, store: AsyncTierStore) -> None:
        for path in ("/tiers/customer/x", "/tiers/customer/x/history"):
            r = await client.get(path)
            assert r.status == 503
            text = await r.text()
            assert "s3cret" not in text
            assert "error" in await r.json()

    serve("redis://:s3cret@127.0.0.1:1/0", prefix, lambda: {"ok": True}, body)


def test_health_and_metrics(prefix: str) -> None:
    state: dict[str, object] = {"ok": True, "redis": "up"}
    metrics = ServiceMetrics()

    async def body(client: Any, store: AsyncTierStore) -> None:
        r = await client.get("/health")
        assert r.status == 200
        assert await r.json() == {"ok": True, "redis": "up"}
        state["ok"] = False
        r = await client.get("/health")
        assert r.status == 503
        assert (await r.json())["ok"] is False

        metrics.redis_errors.inc()
        r = await client.get("/metrics")
        assert r.status == 200
        assert r.headers["Content-Type"] == METRICS_CONTENT_TYPE
        text = await r.text()
        assert "# TYPE tierstream_redis_errors_total counter" in text
        assert "tierstream_redis_errors_total 1.0\n" in text  # this app's registry

    serve(REDIS_URL, prefix, lambda: dict(state), body, metrics)


def test_a_suppliers_rectification_case(prefix: str) -> None:
    from datetime import UTC, datetime

    from tierstream.schemas.outputs import SupplierCase

    def case(n: int, status: str) -> SupplierCase:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        return SupplierCase.model_validate({
            "event_id": f"sc:s1:{n}:{status}", "case_id": f"sc:s1:{n}", "status": status,
            "recommendation": {"opened": "rectify", "closed": "none", "escalated": "phase_out"}[status],
            "supplier_id": "s1", "tier": "unqualified", "score": 40.0, "components": {"quality": 40.0},
            "reasons": ["fell"], "opened_at": at, "deadline": at, "rules_version": "v", "occurred_at": at,
            "cause": "e1"})

    async def body(client: Any, store: AsyncTierStore) -> None:
        assert (await client.get("/cases/supplier/s1")).status == 404
        assert await store.apply_cases([case(1, "opened")]) == [True]
        r = await client.get("/cases/supplier/s1")
        assert r.status == 200
        got = await r.json()
        assert (got["open"], got["case_id"], got["status"], got["recommendation"]) == (
            True, "sc:s1:1", "opened", "rectify")
        # forward only: the outcome replaces the opening, a replayed opening changes nothing
        assert await store.apply_cases([case(1, "escalated"), case(1, "opened")]) == [True, False]
        got = await (await client.get("/cases/supplier/s1")).json()
        assert (got["open"], got["status"], got["recommendation"]) == (False, "escalated", "phase_out")
        assert await store.apply_cases([case(2, "opened")]) == [True]
        assert (await (await client.get("/cases/supplier/s1")).json())["case_id"] == "sc:s1:2"

    serve(REDIS_URL, prefix, lambda: {"ok": True}, body)
