"""Operating a running worker: rules reload and the authenticated write path.

* **Rules reload.** The worker watches ``TIERSTREAM_RULES``. A new file is
  validated in full before it is used; a bad one (or one reusing the version of
  the rules in force with other content) is refused with its error logged and
  shown on ``/health`` (``rules_error``), and the running rules stay in force.
  Good rules take effect at their ``effective_from`` and re-grade as their
  ``regrade`` says (``streams.worker.rollout``); every version taken is
  recorded in Redis and served at ``GET /rules``. Cached end-of-day scores are
  recomputed under the new rules.
* **Manual assessments over HTTP.** ``POST /assessments`` takes one
  AssessmentEvent (prospect score, tier override or a dimension's score) and publishes it to the
  assessments topic. Writes need ``Authorization: Bearer <TIERSTREAM_ADMIN_TOKEN>``;
  without a configured token the endpoint refuses every write. Each client address may
  make ``TIERSTREAM_WRITE_RATE_LIMIT`` write requests per ``TIERSTREAM_WRITE_RATE_WINDOW_S``
  (:mod:`.ratelimit`), whatever their token; more are answered 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from faust.web import Request, Response, View
from pydantic import ValidationError

from tierstream.schemas.errors import RulesError, StoreUnavailable, describe
from tierstream.schemas.events import AssessmentEvent, entity_of
from tierstream.schemas.rules import load_rules
from tierstream.streams.kafka.topics import entity_key
from tierstream.streams.worker.ratelimit import RateLimiter

if TYPE_CHECKING:
    from tierstream.streams.worker.app import Pipeline

log = logging.getLogger("tierstream.control")
MAX_BODY = 16 * 1024


class RulesWatcher:
    """Polls the rules file's mtime; loads, validates and swaps atomically."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.path: Path | None = pipeline.settings.rules
        self.mtime = self._mtime()
        self.error: str | None = None
        self.loaded_at = time.time()
        self.recorded = 0  #: how many of the processor's rules versions are in Redis

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime if self.path else None
        except OSError:
            return None

    def check(self) -> bool:
        """Reload if the file changed; True when new rules were taken."""
        mtime = self._mtime()
        if self.path is None or mtime is None or mtime == self.mtime:
            return False
        self.mtime = mtime
        proc = self.pipeline.processor
        try:
            rules = load_rules(self.path)
            if rules.version == proc.rules.version and rules.sha256 != proc.rules.sha256:
                raise RulesError(f"{self.path}: version {rules.version} is in force with other content "
                                 f"(sha256 {proc.rules.sha256[:12]}...): give the new rules a new version")
        except RulesError as exc:
            self.error = str(exc)
            log.error("refused new rules, keeping %s: %s", proc.rules.version, exc)
            return False
        if rules.sha256 == proc.rules.sha256:
            return False  # the same file touched again
        self.pipeline.send(proc.offer_rules(rules))
        self.error = None
        self.loaded_at = time.time()
        when = "at once" if proc.pending is None else f"from {rules.effective_from}"
        log.warning("rules %s loaded from %s, in force %s (regrade %s)", rules.version, self.path, when, rules.regrade)
        return True

    async def record(self) -> None:
        """Write the rules versions taken since the last call to Redis (kept for a later call if it is down)."""
        history = self.pipeline.processor.history
        while self.recorded < len(history):
            try:
                await self.pipeline.tier_store.record_rules(history[self.recorded].to_json())
            except StoreUnavailable:
                return
            self.recorded += 1

    def status(self) -> dict[str, object]:
        proc = self.pipeline.processor
        pending = proc.pending
        return {"rules_version": proc.rules.version, "rules_sha256": proc.rules.sha256, "rules_error": self.error,
                "rules_loaded_at": round(self.loaded_at, 3),
                "rules_pending": None if pending is None else {
                    "version": pending.version, "effective_from": str(pending.effective_from)}}


def _authorized(request: Request, token: str | None) -> bool:
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def register_control(pipeline: Pipeline) -> RulesWatcher:
    app = pipeline.app
    watcher = RulesWatcher(pipeline)
    token = pipeline.settings.admin_token.get_secret_value() if pipeline.settings.admin_token else None
    limiter = RateLimiter(pipeline.settings.write_rate_limit, pipeline.settings.write_rate_window_s)
    topic = pipeline.out.get(pipeline.names.inbound("assessment")) or app.topic(
        pipeline.names.inbound("assessment"), key_serializer="raw", value_serializer="raw",
        key_type=bytes, value_type=bytes,
    )

    @app.timer(interval=2.0)  # type: ignore[untyped-decorator]
    async def watch_rules() -> None:
        try:
            watcher.check()
        except Exception as exc:  # a reload must never stop the worker: the running rules stay
            watcher.error = f"rules reload failed: {exc!r}"
            log.exception("rules reload failed; the running rules stay in force")
        await watcher.record()

    @app.page("/rules")
    class RulesHistory(View):
        async def get(self, request: Request) -> Response:
            """The rules in force, any waiting for their instant, and every version taken (from Redis)."""
            try:
                history = await pipeline.tier_store.rules_history()
            except StoreUnavailable:
                history = [v.to_json() for v in pipeline.processor.history]  # this worker's own
            return self.json({**watcher.status(), "history": history})

    @app.page("/assessments")
    class Assessments(View):
        async def post(self, request: Request) -> Response:
            wait = limiter.take(cast(web.Request, request).remote or "")  # Faust serves aiohttp's requests
            if wait:
                return self.json({"error": "too many write requests from this address: retry later"}, status=429,
                                 headers={"Retry-After": str(math.ceil(wait))})
            if not token:
                return self.json({"error": "writes are disabled: set TIERSTREAM_ADMIN_TOKEN"}, status=403)
            if not _authorized(request, token):
                return self.json({"error": "missing or wrong bearer token"}, status=401)
            body = await request.read()
            if len(body) > MAX_BODY:
                return self.json({"error": f"body over {MAX_BODY} bytes"}, status=413)
            try:
                event = AssessmentEvent.model_validate_json(body)
            except ValidationError as exc:
                return self.json({"error": describe(exc)}, status=400)
            key = entity_key(*entity_of(event)).encode()
            await topic.send(key=key, value=body)
            result: dict[str, Any] = {"accepted": event.event_id, "entity": key.decode()}
            return self.json(result, status=202)

    return watcher
