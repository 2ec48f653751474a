"""The HTTP views word reasons and hints in the language of ``Accept-Language``, else the service's setting.

Real changes of the scorer (with their messages) are stored in a real Redis
(the session's embedded Valkey) and read back through Faust's aiohttp app, as in ``test_web.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.redis_store.helpers import REDIS_URL, key_prefix
from tests.scorers.helpers import assessment, changes, feed, key_customer
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader
from tierstream.scorers.messages import code, render, render_all, term
from tierstream.scorers.review import ReviewRow
from tierstream.streams.store.redis import AsyncTierStore
from tierstream.streams.worker.metrics import ServiceMetrics
from tierstream.streams.worker.web import register_web


@pytest.fixture
def prefix() -> Iterator[str]:
    with key_prefix("tstest-lang") as p:
        yield p


def _changes() -> list[TierChange]:
    """A customer graded, reaching key, then overridden to potential: the changes of c1, in order."""
    g = Grader(load_rules())
    state, first = feed(g, key_customer())
    _, then = feed(g, [assessment(27, "c1", 40, override="potential")], state)
    return changes(first) + changes(then)


def _get(prefix: str, language: str, requests: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    """Store the changes, serve them with the service language ``language``, and GET each request."""
    async def run() -> list[dict[str, Any]]:
        app = faust.App(f"tierstream-lang-test-{uuid.uuid4().hex[:8]}", web_host="127.0.0.1", web_port=6066)
        store = AsyncTierStore.from_url(REDIS_URL, prefix=prefix)
        register_web(app, store, lambda: {"ok": True}, ServiceMetrics(), language=language)
        try:
            assert all(await store.apply_many(_changes()))
            async with TestClient(TestServer(await app.web.wsgi())) as client:
                out = []
                for path, headers in requests:
                    r = await client.get(path, headers=headers)
                    assert r.status == 200
                    out.append(await r.json())
                return out
        finally:
            await store.close()

    return asyncio.run(run())


def test_the_current_tier_in_the_language_asked_for(prefix: str) -> None:
    last = _changes()[-1]
    assert last.reasons[0] == "manual override by li.wei: sales visit (until 2025-02-10)"
    en, zh, es, fallback = _get(prefix, "en", [
        ("/tiers/customer/c1", {}),
        ("/tiers/customer/c1", {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}),
        ("/tiers/customer/c1", {"Accept-Language": "fr-FR, es-ES;q=0.8, zh;q=0.5"}),
        ("/tiers/customer/c1", {"Accept-Language": "fr"}),
    ])
    assert en["reasons"] == fallback["reasons"] == last.reasons  # the words stored, English
    assert zh["reasons"][0] == "li.wei 人工调整：sales visit（有效至 2025-02-10）"
    assert es["reasons"][0] == "ajuste manual de li.wei: sales visit (hasta el 2025-02-10)"
    assert zh["reasons"] == render_all(last.reason_codes, "zh")
    # the next tier's hints too (potential -> general), worded from the same change's messages
    assert last.next_tier is not None and last.next_tier_codes is not None
    assert zh["next_tier"]["hints"] == render_all(last.next_tier_codes.hints, "zh")
    assert es["next_tier"]["hints"] == render_all(last.next_tier_codes.hints, "es")
    assert en["next_tier"]["hints"] == last.next_tier.hints
    assert (zh["tier"], zh["change_id"], zh["score"]) == (en["tier"], en["change_id"], en["score"])


def test_the_history_in_the_language_asked_for_else_the_setting(prefix: str) -> None:
    made = _changes()
    first, last = made[0], made[-1]
    setting, asked = _get(prefix, "zh", [
        ("/tiers/customer/c1/history", {}),
        ("/tiers/customer/c1/history", {"Accept-Language": "es"}),
    ])
    assert [c["change_id"] for c in setting["changes"]] == [c.change_id for c in reversed(made)]
    assert setting["changes"][0]["reasons"][0] == "li.wei 人工调整：sales visit（有效至 2025-02-10）"
    assert setting["changes"][-1]["reasons"] == render_all(first.reason_codes, "zh")
    assert setting["changes"][-1]["reasons"][0].startswith("首次分级：评分 ")
    assert asked["changes"][-1]["reasons"][0].startswith("primera clasificación: la puntuación ")
    assert asked["changes"][0]["reasons"] == render_all(last.reason_codes, "es")


def test_the_review_details_in_the_language_asked_for_else_the_setting(prefix: str) -> None:
    # One open case row (as the reviewer of the worker gives it), read with the setting es, then asking zh.
    detail = code("review.case_in_days", case="sc:s2:1", opened="2025-01-06", deadline="2025-01-16", days=4.0,
                  score=33.33, tier=term("unqualified", {"zh": "不合格供应商", "es": "no calificado"}))
    row = ReviewRow("supplier", "s2", "rectification_open", 1736985600, "2025-01-16", "unqualified",
                    render(detail), detail)

    async def reviewer(as_of: int | None, within_days: int, entity_type: str | None) -> tuple[int, list[Any]]:
        return 1736640000, [row.as_dict()]

    async def run() -> list[dict[str, Any]]:
        app = faust.App(f"tierstream-lang-test-{uuid.uuid4().hex[:8]}", web_host="127.0.0.1", web_port=6066)
        store = AsyncTierStore.from_url(REDIS_URL, prefix=prefix)
        register_web(app, store, lambda: {"ok": True}, ServiceMetrics(), reviewer=reviewer, language="es")
        try:
            async with TestClient(TestServer(await app.web.wsgi())) as client:
                return [await (await client.get("/review", headers=h)).json() for h in ({}, {"Accept-Language": "zh"})]
        finally:
            await store.close()

    setting, asked = asyncio.run(run())
    assert setting["rows"][0]["detail"] == ("caso de rectificación sc:s2:1 abierto el 2025-01-06: se reevalúa en su "
                                            "plazo 2025-01-16 (en 4,0 días); puntuación 33,33 en no calificado")
    assert asked["rows"][0]["detail"] == ("整改案例 sc:s2:1 于 2025-01-06 开启：将于截止日 2025-01-16 复评"
                                          "（还有 4.0 天）；评分 33.33，不合格供应商")
