"""HTTP endpoints of the worker, served by Faust's embedded aiohttp server.

``GET /tiers/{entity_type}/{entity_id}``          current tier with its explanation (tier ``ungraded``
                                                  and its ``ungraded_reason`` below the rules' min_evidence)
``GET /tiers/{entity_type}/{entity_id}/history``  past changes, newest first (``?limit=N``)

Both, and ``/review``'s details, word their reasons and hints in the language of the request's
``Accept-Language`` (``en``, ``zh``, ``es``, regional tags and q-values understood), else the
service's ``TIERSTREAM_LANGUAGE``.
``GET /audit/{entity_type}/{entity_id}``          manual assessments and overrides with their status, latest first
``GET /review?within_days=14``                    what is due for review over this worker's partitions
                                                  (``&as_of=RFC3339``, ``&entity_type=``)
``GET /cases/supplier/{supplier_id}``             the supplier's rectification case: the open one
                                                  (``open`` true), else the last one's outcome
``GET /health``                                   ``health()`` as JSON; 503 when not ok
``GET /metrics``                                  Prometheus text format (``prometheus_client``)

Tier lookups read Redis (the same store downstream systems read), not the Faust
table, so any worker answers for any entity without routing to the partition owner.
Errors are JSON ``{"error": ...}``: 400 bad input, 404 unknown entity, 503 Redis down.

Faust's own views (``/table``, ``/router``, ``/``'s statistics or index, ``/graph``,
``/performance``) are not served (:func:`serve_only_ours`): they list the tables' contents and
the partition map to anyone who asks, so any path not listed here or in the dashboard and
control modules answers 404.

Faust passes the route's ``{placeholders}`` to the view method as keyword arguments
(``View.dispatch`` forwards aiohttp's ``match_info``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import faust
from faust.web import Request, Response, View
from faust.web.base import BlueprintManager
from pydantic import TypeAdapter, ValidationError

from tierstream.scorers.messages import DEFAULT_LANGUAGE
from tierstream.scorers.outcome import ts
from tierstream.scorers.wording import pick_language, reword
from tierstream.streams.store.redis import ENTITY_TYPES, AsyncTierStore, StoreUnavailable
from tierstream.streams.worker.metrics import METRICS_CONTENT_TYPE, ServiceMetrics

__all__ = ["METRICS_CONTENT_TYPE", "Reviewer", "register_web", "serve_only_ours"]

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT: Final = 20
DEFAULT_WITHIN_DAYS: Final = 14
_INSTANT: TypeAdapter[datetime] = TypeAdapter(datetime)

#: ``(as_of or None, within_days, entity_type or None) -> (as_of used, rows as JSON)``
Reviewer = Callable[[int | None, int, str | None], Awaitable[tuple[int, list[dict[str, Any]]]]]


def serve_only_ours(app: faust.App) -> None:
    """Serve none of Faust's built-in views: only the routes the app's ``page`` calls add.

    Faust's per-view settings (``web_tables_enabled`` ...) are not enough: its own
    environment variables (``APP_WEB_TABLES_ENABLED`` ...) override what the app passes.
    An empty blueprint list leaves nothing for them to turn back on.
    """
    app.web.blueprints = BlueprintManager()


def register_web(
    app: faust.App,
    store: AsyncTierStore,
    health: Callable[[], dict[str, object]],
    metrics: ServiceMetrics,
    reviewer: Reviewer | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> None:
    """Add the tierstream views to ``app``, and no Faust built-in one (call before the worker starts).

    Reasons and hints are worded in the language the request's ``Accept-Language``
    prefers among ours, else in ``language`` (the service's setting).
    """
    serve_only_ours(app)

    def worded(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
        return reword(doc, pick_language(request.headers.get("Accept-Language"), language))

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
                current = await store.current(entity_type, entity_id)
            except StoreUnavailable as exc:
                return unavailable(self, exc)
            if current is None:
                return self.error(404, f"no tier for {entity_type} {entity_id!r}")
            return self.json(worded(request, current))

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
                "changes": [worded(request, c) for c in changes],
            }
            return self.json(body)

    class AuditView(View):
        """Every manual assessment and override of one entity, latest first."""

        async def get(self, request: Request, entity_type: str, entity_id: str) -> Response:
            if (bad := bad_entity_type(self, entity_type)) is not None:
                return bad
            try:
                entries = await store.audit(entity_type, entity_id)
            except StoreUnavailable as exc:
                return unavailable(self, exc)
            if not entries:
                return self.error(404, f"no assessment for {entity_type} {entity_id!r}")
            return self.json({"entity_type": entity_type, "entity_id": entity_id, "assessments": entries})

    class ReviewView(View):
        """What is due for review over this worker's partitions."""

        async def get(self, request: Request) -> Response:
            q = request.query
            raw = q.get("within_days", str(DEFAULT_WITHIN_DAYS))
            if not raw.isdigit():
                return self.error(400, "within_days must be a whole number of days (0 or more)")
            entity_type = q.get("entity_type")
            if entity_type is not None and (bad := bad_entity_type(self, entity_type)) is not None:
                return bad
            as_of: int | None = None
            if "as_of" in q:
                try:
                    when = _INSTANT.validate_python(q["as_of"])
                except ValidationError:
                    when = None
                if when is None or when.tzinfo is None:
                    return self.error(400, "as_of must be an RFC 3339 instant with an offset "
                                           "(e.g. 2026-03-01T00:00:00Z)")
                as_of = ts(when)
            if reviewer is None:
                return self.error(503, "review not available")
            at, rows = await reviewer(as_of, int(raw), entity_type)
            return self.json({"as_of": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
                              "scope": "this worker's partitions", "count": len(rows),
                              "rows": [worded(request, r) for r in rows]})

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
    app.page("/audit/{entity_type}/{entity_id}", name="tierstream-audit")(AuditView)
    app.page("/review", name="tierstream-review")(ReviewView)
    app.page("/cases/supplier/{supplier_id}", name="tierstream-case")(CaseView)
    app.page("/health", name="tierstream-health")(HealthView)
    app.page("/metrics", name="tierstream-metrics")(MetricsView)
