"""HTTP endpoints of the worker, served by Faust's embedded aiohttp server.

``GET /tiers/{entity_type}/{entity_id}``          current tier with its explanation (tier ``ungraded``
                                                  and its ``ungraded_reason`` below the rules' min_evidence)
``GET /tiers/{entity_type}/{entity_id}/history``  past changes, newest first (``?limit=N``)
``GET /cases/supplier/{supplier_id}``             the supplier's rectification case: the open one
                                                  (``open`` true), else the last one's outcome
``GET /health``                                   ``health()`` as JSON; 503 when not ok
``GET /metrics``                                  Prometheus text format (``prometheus_client``)

Tier lookups read Redis (the same store downstream systems read), not the Faust
table, so any worker answers for any entity without routing to the partition owner.
Errors are JSON ``{"error": ...}``: 400 bad input, 404 unknown entity, 503 Redis down.

Faust passes the route's ``{placeholders}`` to the view method as keyword arguments
(``View.dispatch`` forwards aiohttp's ``match_info``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import faust
from faust.web import Request, Response, View

from tierstream.streams.store.redis import ENTITY_TYPES, AsyncTierStore, StoreUnavailable
from tierstream.streams.worker.metrics import METRICS_CONTENT_TYPE, ServiceMetrics

__all__ = ["METRICS_CONTENT_TYPE", "register_web"]

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT: Final = 20


def register_web(
    app: faust.App,
    store: AsyncTierStore,
    health: Callable[[], dict[str, object]],
    metrics: ServiceMetrics,
) -> None:
    """Add the tierstream views to ``app`` (call before the worker starts)."""

    def bad_entity_type(view: View, entity_type: str) -> Response | None:
        if entity_type in ENTITY_TYPES:
            return None
        return view.error(
            400, f"unknown entity_type {entity_type!r}; expected one of {list(ENTITY_TYPES)}"
        )

    def unavailable(view: View, exc: StoreUnavailable) -> Response:
        log.warning("tier lookup failed: %s", exc)
        return view.error(503, "tier store unavailable")

    class TierView(View):
        """The stored current tier of one entity."""

        async def get(self, request: Request, entity_type: str, entity_id: str) -> Response:
            if (bad := bad_entity_type(self, entity_type)) is not None:
                return bad
            try:
                current = await store.get(entity_type, entity_id)
            except StoreUnavailable as exc:
                return unavailable(self, exc)
            if current is None:
                return self.error(404, f"no tier for {entity_type} {entity_id!r}")
            return self.json(current)

    class TierHistoryView(View):
        """Past tier changes of one entity, newest first."""

        async def get(self, request: Request, entity_type: str, entity_id: str) -> Response:
            if (bad := bad_entity_type(self, entity_type)) is not None:
                return bad
            raw = request.query.get("limit", str(DEFAULT_HISTORY_LIMIT))
            try:
                limit = int(raw)
            except ValueError:
                limit = 0
            if not 1 <= limit <= store.history_cap:
                return self.error(400, f"limit must be an integer 1..{store.history_cap}")
            try:
                changes = await store.history(entity_type, entity_id, limit)
            except StoreUnavailable as exc:
                return unavailable(self, exc)
            body: dict[str, Any] = {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "changes": changes,
            }
            return self.json(body)

    class CaseView(View):
        """The latest rectification case of one supplier."""

        async def get(self, request: Request, supplier_id: str) -> Response:
            try:
                case = await store.get_case(supplier_id)
            except StoreUnavailable as exc:
                return unavailable(self, exc)
            if case is None:
                return self.error(404, f"no rectification case for supplier {supplier_id!r}")
            return self.json(case)

    class HealthView(View):
        """Liveness/readiness as reported by the worker."""

        async def get(self, request: Request) -> Response:
            try:
                report = health()
            except Exception as exc:  # a broken probe is itself "not healthy"
                log.exception("health probe failed")
                return self.json({"ok": False, "error": type(exc).__name__}, status=503)
            return self.json(report, status=200 if report.get("ok") else 503)

    class MetricsView(View):
        """Prometheus scrape endpoint."""

        async def get(self, request: Request) -> Response:
            # bytes + explicit header: aiohttp's text= path rewrites the content type.
            return self.bytes(metrics.render(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    app.page("/tiers/{entity_type}/{entity_id}", name="tierstream-tier")(TierView)
    app.page("/tiers/{entity_type}/{entity_id}/history", name="tierstream-tier-history")(
        TierHistoryView
    )
    app.page("/cases/supplier/{supplier_id}", name="tierstream-case")(CaseView)
    app.page("/health", name="tierstream-health")(HealthView)
    app.page("/metrics", name="tierstream-metrics")(MetricsView)
