"""The dashboard's routes, served by Faust's aiohttp app without a broker (as in test_web), Redis real."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.redis_store.helpers import DEAD_URL, REDIS_URL, change, key_prefix
from tests.web_app import serve_routes
from tierstream.schemas.outputs import SupplierAlert
from tierstream.schemas.rules import load_rules
from tierstream.streams.store.redis import AsyncTierStore, alert_channel
from tierstream.streams.worker.dashboard import register_dashboard


@pytest.fixture
def prefix() -> Iterator[str]:
    with key_prefix("tstest-dash") as p:
        yield p


def serve(prefix: str, body: Callable[[Any, AsyncTierStore], Awaitable[None]], url: str = REDIS_URL) -> None:
    rules = load_rules()
    serve_routes(url, prefix, lambda app, store: register_dashboard(app, store, lambda: rules), body)


async def next_event(resp: Any, within_s: float = 5.0) -> dict[str, str]:
    """Read the next server-sent event (skipping comments and the retry line) within a deadline."""
    event: dict[str, str] = {}
    end = time.monotonic() + within_s
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), max(0.01, end - time.monotonic()))).decode()
        if line == "\n":
            if "event" in event:
                return event
            continue
        name, _, value = line.rstrip("\n").partition(": ")
        if name in ("id", "event", "data"):
            event[name] = value


def test_page_assets_and_distribution(prefix: str) -> None:
    async def body(client: Any, store: AsyncTierStore) -> None:
        r = await client.get("/")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        page = await r.text()
        assert '<script src="/assets/chart.js"' in page and "/assets/dashboard.js" in page  # no CDN
        r = await client.get("/assets/chart.js")
        assert r.status == 200 and "Chart.js v4.6.2" in (await r.text())[:200]
        assert (await client.get("/assets/dashboard.css")).status == 200
        assert (await client.get("/assets/..%2Fpyproject.toml")).status == 404

        # c-1 key then general, c-2 key, c-3 potential; one supplier good
        assert await store.apply_many([change(1, "c-1", tier="key"), change(1, "c-2", tier="key"),
                                       change(1, "c-3", tier="potential"), change(2, "c-1", tier="general"),
                                       change(1, "s-1", "supplier", tier="good")])
        doc = await (await client.get("/distribution")).json()
        assert doc["customer"]["total"] == 3
        assert doc["customer"]["tiers"] == [{"tier": "key", "count": 1}, {"tier": "general", "count": 1},
                                            {"tier": "potential", "count": 1}, {"tier": "ungraded", "count": 0}]
        assert doc["customer"]["segments"] == {"": 3} and doc["customer"]["groups"] == {"": 3}
        assert doc["customer"]["dimensions"]["profit"] == "profit contribution"
        assert [t["count"] for t in doc["supplier"]["tiers"]] == [0, 1, 0, 0, 0]
        one = await (await client.get("/distribution?entity_type=supplier&group=retail")).json()
        assert list(one) == ["supplier"] and one["supplier"]["total"] == 0
        assert (await client.get("/distribution?entity_type=partner")).status == 400

    serve(prefix, body)


def test_live_feed_sends_the_backlog_then_changes_and_alerts(prefix: str) -> None:
    async def body(client: Any, store: AsyncTierStore) -> None:
        assert await store.apply_many([change(1, "c-1", tier="key")])
        resp = await client.get("/live")
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
        first = await next_event(resp)
        assert first["event"] == "change" and json.loads(first["data"])["change_id"] == "tc:customer:c-1:1"

        assert await store.apply_many([change(2, "c-1", tier="general")])
        second = await next_event(resp)
        assert json.loads(second["data"])["tier"] == "general" and second["id"] > first["id"]

        end = time.monotonic() + 5  # the feed subscribes to the channels as it starts: wait for that
        while (await store.client.pubsub_numsub(alert_channel(prefix)))[0][1] < 1:
            assert time.monotonic() < end, "the live feed never subscribed to the alert channel"
            await asyncio.sleep(0.05)
        at = datetime(2026, 1, 1, tzinfo=UTC)
        await store.publish_alerts([SupplierAlert(alert_id="sa:s-1:1", supplier_id="s-1", previous_tier="good",
                                                  tier="unqualified", severity="critical", score=30.0,
                                                  reasons=["quality fell"], occurred_at=at, change_id="x")])
        alert = await next_event(resp)
        assert alert["event"] == "alert" and json.loads(alert["data"])["severity"] == "critical"
        resp.close()

        # a browser that reconnects with the id it saw last gets what followed, nothing before
        assert await store.apply_many([change(3, "c-1", tier="key")])
        again = await client.get("/live", headers={"Last-Event-ID": second["id"]})
        third = await next_event(again)
        assert json.loads(third["data"])["change_id"] == "tc:customer:c-1:3"
        again.close()

    serve(prefix, body)


def test_without_redis_the_page_loads_and_says_so(prefix: str) -> None:
    async def body(client: Any, store: AsyncTierStore) -> None:
        assert (await client.get("/")).status == 200
        r = await client.get("/distribution")
        assert r.status == 503 and "s3cret" not in await r.text()
        live = await client.get("/live")
        status = await next_event(live)
        assert (status["event"], json.loads(status["data"])) == ("status", {"redis": "unavailable"})
        live.close()

    serve(prefix, body, DEAD_URL)
