"""The dashboard the worker serves at ``/``: plain files from :mod:`streams.assets`, JSON and a live feed.

``GET /``                       the page (tier distribution, live feed, filters, search; an entity's
                                page at ``/#/entity/{entity_type}/{entity_id}``, read from ``/tiers``)
``GET /assets/{name}``          its script, style sheet and Chart.js, shipped inside the package
``GET /distribution``           per entity type: ``total``, ``tiers`` (count per tier, best first, then
                                ``ungraded``), ``segments`` and ``groups`` (counts, for the filters) and
                                ``dimensions`` (name -> label); ``?segment=&group=`` count only those
                                (an empty value: entities without one), ``?entity_type=`` one type
``GET /live``                   server-sent events: ``change``, ``alert``, ``notice`` (see :mod:`.live`)

The distribution is read from the counters the store keeps as changes are applied, so
it costs the same with a hundred entities or a hundred thousand; a worker's start counts,
once per store, the entities stored before those counters existed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final, cast

import faust
from aiohttp import web
from faust.web import Request, Response, View
from redis.exceptions import RedisError

from tierstream.schemas.rules import Rules
from tierstream.schemas.tiers import Dimension
from tierstream.streams.assets import CHART_JS, asset_bytes
from tierstream.streams.store.counters import count_uncounted, summarize
from tierstream.streams.store.redis import ENTITY_TYPES, AsyncTierStore, StoreUnavailable
from tierstream.streams.worker.live import LiveFeed

__all__ = ["ASSETS", "register_dashboard"]

log = logging.getLogger(__name__)

#: The files the page loads: URL name -> (file in streams/assets, content type).
ASSETS: Final = {
    "dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "chart.js": (CHART_JS, "text/javascript; charset=utf-8"),
}


def _label(name: str, dim: Dimension) -> str:
    if isinstance(dim.label, str):
        return dim.label
    return (dim.label or {}).get("en", name)


def register_dashboard(app: faust.App, store: AsyncTierStore, rules: Callable[[], Rules]) -> LiveFeed:
    """Add the dashboard's views to ``app``; ``rules`` returns the rules in force (for the tier order)."""
    feed = LiveFeed(store.client, store.prefix)
    page = asset_bytes("dashboard.html")

    async def stop_feeds(_: object) -> None:
        feed.close()

    # aiohttp's shutdown signal ends the open feeds before it waits for the handlers to return.
    cast(Any, app.web).web_app.on_shutdown.append(stop_feeds)

    async def count_earlier_entities() -> None:
        """Count the entities stored before the tier counters existed (once per store, see keys.py)."""
        try:
            counted = await count_uncounted(store.client, store.prefix)
        except (RedisError, OSError) as exc:
            log.warning("could not count the entities stored before the tier counters (%s); the next "
                        "start tries again", type(exc).__name__)
            return
        if counted:
            log.info("counted %d entities stored before the tier counters", counted)

    app.task(count_earlier_entities)

    class DashboardView(View):
        """The dashboard page."""

        async def get(self, request: Request) -> Response:
            return self.bytes(page, headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"})

    class AssetView(View):
        """A file of the page, from the package."""

        async def get(self, request: Request, name: str) -> Response:
            if name not in ASSETS:
                return self.error(404, f"no asset {name!r}")
            path, content_type = ASSETS[name]
            return self.bytes(asset_bytes(path), headers={"Content-Type": content_type,
                                                          "Cache-Control": "max-age=300"})

    class DistributionView(View):
        """The tier distribution per entity type, from the store's counters."""

        async def get(self, request: Request) -> Response:
            q = request.query
            types = [q["entity_type"]] if "entity_type" in q else list(ENTITY_TYPES)
            if any(t not in ENTITY_TYPES for t in types):
                return self.error(400, f"unknown entity_type {q['entity_type']!r}; "
                                       f"expected one of {list(ENTITY_TYPES)}")
            try:
                cells = await asyncio.gather(*(store.distribution(t) for t in types))
            except StoreUnavailable as exc:
                log.warning("distribution read failed: %s", exc)
                return self.error(503, "tier store unavailable")
            now = rules()
            body: dict[str, Any] = {}
            for t, cs in zip(types, cells, strict=True):
                of = now.of(t)
                body[t] = {**summarize(cs, of.every_tier_name(), q.get("segment"), q.get("group")),
                           "dimensions": {n: _label(n, d) for n, d in of.dimensions.items()}}
            return self.json(body, headers={"Cache-Control": "no-cache"})

    class LiveView(View):
        """Tier changes, supplier alerts and notices as they happen (server-sent events)."""

        async def get(self, request: Request) -> Any:
            return await feed.serve(cast(web.Request, request))

    app.page("/", name="tierstream-dashboard")(DashboardView)
    app.page("/assets/{name}", name="tierstream-dashboard-asset")(AssetView)
    app.page("/distribution", name="tierstream-distribution")(DistributionView)
    app.page("/live", name="tierstream-live")(LiveView)
    return feed
