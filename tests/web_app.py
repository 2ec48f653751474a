"""Serve a test's routes from Faust's aiohttp app without a broker, against a real Redis.

``app.web.wsgi()`` builds the aiohttp application Faust would serve (views and default
blueprints) without starting the worker, so no Kafka is needed; aiohttp's test server
binds a free port.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiohttp.test_utils import TestClient, TestServer

from tierstream.streams.store.redis import AsyncTierStore

__all__ = ["serve_routes"]


def serve_routes(
    url: str,
    prefix: str,
    register: Callable[[faust.App, AsyncTierStore], object],
    body: Callable[[Any, AsyncTierStore], Awaitable[None]],
) -> None:
    """Run ``body(client, store)`` against an app with the routes ``register`` adds, its store ``url``/``prefix``."""

    async def run() -> None:
        app = faust.App(f"tierstream-web-test-{uuid.uuid4().hex[:8]}", web_host="127.0.0.1", web_port=6066)
        store = AsyncTierStore.from_url(url, prefix=prefix)
        register(app, store)
        web_app = await app.web.wsgi()
        try:
            async with TestClient(TestServer(web_app)) as client:
                await body(client, store)
        finally:
            await store.close()

    asyncio.run(run())
