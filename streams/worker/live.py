"""The dashboard's live feed: tier changes, supplier alerts and notices as server-sent events.

Each browser gets its own readers. Changes come from the Redis stream ``{prefix}:changes``
(``XREAD BLOCK`` from the last entry sent), so a browser that reconnects with
``Last-Event-ID`` resumes where it stopped, without a gap while the stream still holds
that entry; a new browser first gets the latest :data:`BACKLOG` changes. Supplier alerts
and notices come from their pub/sub channels, as published (fire and forget). Events are
``change``, ``alert`` and ``notice`` with the JSON document as data, and ``status`` while
Redis does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aredis
from aiohttp import web
from redis.exceptions import RedisError

from tierstream.streams.store.keys import ENTITY_TYPES, alert_channel, changes_stream_key, notice_channel

__all__ = ["BACKLOG", "FeedItem", "LiveFeed", "sse_bytes"]

log = logging.getLogger(__name__)

BACKLOG: Final = 30
BLOCK_MS: Final = 1000  # under the store client's socket timeout (2 s)
HEARTBEAT_S: Final = 15.0
RETRY_S: Final = 1.0
QUEUE_SIZE: Final = 1000


@dataclass(frozen=True)
class FeedItem:
    """One server-sent event: its kind, its JSON data, and the stream id of a change."""

    kind: str
    data: str
    id: str | None = None


def sse_bytes(item: FeedItem) -> bytes:
    """Return an event in the ``text/event-stream`` format."""
    lines = [f"id: {item.id}"] if item.id else []
    lines.append(f"event: {item.kind}")
    lines += [f"data: {line}" for line in item.data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


class LiveFeed:
    """Serve the live feed of one store's keys to any number of browsers."""

    def __init__(self, client: aredis.Redis[str], prefix: str) -> None:
        self._redis = client
        self.prefix = prefix
        self._open: set[asyncio.Queue[FeedItem | None]] = set()

    def close(self) -> None:
        """End every open feed (the web server is shutting down)."""
        for queue in self._open:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """Stream events to one browser until it leaves or the server stops."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        queue: asyncio.Queue[FeedItem | None] = asyncio.Queue(QUEUE_SIZE)
        self._open.add(queue)
        last_id = request.headers.get("Last-Event-ID")
        stop = asyncio.Event()
        readers = [asyncio.create_task(self._changes(last_id, queue, stop)),
                   asyncio.create_task(self._channels(queue, stop))]
        try:
            await resp.write(b"retry: 2000\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if item is None:
                    break
                await resp.write(sse_bytes(item))
        except ConnectionError:
            pass  # the browser left
        finally:
            # The readers are told to stop, never cancelled: a Redis call cancelled midway can
            # leave redis-py's connection waiting for a reply forever. Each stops within a second.
            self._open.discard(queue)
            stop.set()
            await asyncio.wait(readers)
        return resp

    async def _changes(self, last_id: str | None, queue: asyncio.Queue[FeedItem | None], stop: asyncio.Event) -> None:
        key = changes_stream_key(self.prefix)

        async def backlog() -> None:
            nonlocal last_id
            entries = await self._redis.xrevrange(key, count=BACKLOG)
            for entry_id, fields in reversed(entries):
                await _offer(queue, FeedItem("change", fields["change"], entry_id), stop)
            last_id = entries[0][0] if entries else "0-0"

        async def follow() -> None:
            nonlocal last_id
            if last_id is None:
                await backlog()
            got = await self._redis.xread({key: last_id or "0-0"}, count=500, block=BLOCK_MS)
            for _stream, entries in got or []:
                for entry_id, fields in entries:
                    await _offer(queue, FeedItem("change", fields["change"], entry_id), stop)
                    last_id = entry_id

        await _retrying(follow, queue, stop)

    async def _channels(self, queue: asyncio.Queue[FeedItem | None], stop: asyncio.Event) -> None:
        alerts = alert_channel(self.prefix)
        pubsub: Any = None

        async def follow() -> None:
            nonlocal pubsub
            if pubsub is None:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(alerts, *(notice_channel(self.prefix, t) for t in ENTITY_TYPES))
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                await _offer(queue, FeedItem("alert" if msg["channel"] == alerts else "notice", msg["data"]), stop)

        async def reset() -> None:
            nonlocal pubsub
            if pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            pubsub = None

        try:
            await _retrying(follow, queue, stop, reset)
        finally:
            await reset()



async def _offer(queue: asyncio.Queue[FeedItem | None], item: FeedItem, stop: asyncio.Event) -> None:
    """Put ``item`` in the browser's queue, waiting while it is full, unless the feed stops."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(queue.put(item), 1.0)
            return
        except TimeoutError:
            continue


async def _retrying(step: Callable[[], Awaitable[None]], queue: asyncio.Queue[FeedItem | None], stop: asyncio.Event,
                    on_error: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run ``step`` until ``stop``; while Redis fails, say so once and retry every :data:`RETRY_S`."""
    down = False
    while not stop.is_set():
        try:
            await step()
        except (RedisError, OSError) as exc:
            if on_error is not None:
                await on_error()
            if not down:
                log.warning("live feed: Redis unavailable (%s)", type(exc).__name__)
                await _offer(queue, FeedItem("status", json.dumps({"redis": "unavailable"})), stop)
            down = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)
            continue
        if down:
            await _offer(queue, FeedItem("status", json.dumps({"redis": "up"})), stop)
            down = False
