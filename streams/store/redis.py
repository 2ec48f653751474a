"""The current-tier store in Redis: what downstream systems read (:class:`AsyncTierStore`).

The keys and what they hold are in :mod:`.keys` (:func:`key_layout` prints them);
every write is the one script of :mod:`.lua`: idempotent and monotone per entity,
so a redelivered or older change changes nothing and emits nothing, which is what
at-least-once delivery from Kafka needs. All keys of one change are touched by
one script, so this layout needs a single Redis (or a primary with replicas); it
is not Redis-Cluster-safe (the keys hash to different slots).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final, cast
from urllib.parse import urlsplit

import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tierstream.schemas.errors import StoreUnavailable
from tierstream.schemas.outputs import AuditEntry, SupplierAlert, SupplierCase, TierChange, TierNotice
from tierstream.schemas.settings import Settings
from tierstream.streams.store.counters import Cell, parse_cells
from tierstream.streams.store.keys import (
    AUDIT_CAP,
    ENTITY_TYPES,
    HISTORY_CAP,
    STREAM_MAXLEN,
    alert_channel,
    audit_key,
    case_key,
    change_channel,
    changes_stream_key,
    check_entity_type,
    dist_key,
    history_key,
    key_layout,
    notice_channel,
    parse_seq,
    rules_key,
    tier_key,
)
from tierstream.streams.store.lua import (
    APPLY_LUA,
    APPLY_SHA,
    AUDIT_LUA,
    AUDIT_SHA,
    CASE_LUA,
    audit_call,
    script_call,
)

__all__ = [
    "APPLY_LUA",
    "AUDIT_CAP",
    "ENTITY_TYPES",
    "HISTORY_CAP",
    "STREAM_MAXLEN",
    "AsyncTierStore",
    "Cell",
    "StoreUnavailable",
    "alert_channel",
    "audit_key",
    "case_key",
    "change_channel",
    "changes_stream_key",
    "dist_key",
    "history_key",
    "key_layout",
    "notice_channel",
    "parse_seq",
    "tier_key",
]

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S: Final = 2.0


def _decode_current(entity_type: str, entity_id: str, raw: dict[str, str]) -> dict[str, Any] | None:
    """The stored hash as plain JSON-ready values (JSON fields parsed, numbers typed)."""
    if not raw:
        return None
    # every field present, also when an older worker wrote the hash without some
    out: dict[str, Any] = {"entity_type": entity_type, "entity_id": entity_id, "ungraded_reason": None,
                           "segment": None, "loyalty": None, "group": None, "profile": None}
    for name, value in raw.items():
        if name == "counted_in":  # the tier counters' bookkeeping (see keys.py), not the entity's
            continue
        if name in ("components", "reasons", "next_tier", "actions", "profile"):
            out[name] = json.loads(value)
        elif name == "score":
            out[name] = float(value)
        elif name == "seq":
            out[name] = int(value)
        elif name in ("previous_tier", "ungraded_reason", "segment", "loyalty", "group"):
            out[name] = value or None
        else:
            out[name] = value
    return out


def _redis_kwargs(timeout: float) -> dict[str, Any]:
    return {
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }


def _endpoint(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, never its credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path or "unix socket"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 6379
    return f"{parts.hostname or '?'}:{port}"


def _check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        # Deliberately no URL in the message: it may carry a password.
        raise ValueError("the Redis URL must start with redis://, rediss:// or unix://")


def _unavailable(endpoint: str, exc: BaseException) -> StoreUnavailable:
    # The redis-py message is replaced by the exception class name: a driver message
    # is not guaranteed to be free of connection details.
    return StoreUnavailable(f"Redis at {endpoint} unavailable ({type(exc).__name__})")


def _untyped(client: object) -> Any:
    """The client without static types, for the few redis 8 methods the installed
    ``types-redis`` 4.6 stubs lack or leave unannotated (``aclose``, ``script_load``)."""
    return client


_CONN_ERRORS = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)


# --- async store -------------------------------------------------------------


class AsyncTierStore:
    """The tier store used by the worker (sink agent and web views)."""

    def __init__(
        self,
        client: aredis.Redis[str],
        *,
        prefix: str = "tierstream",
        endpoint: str = "redis",
        history_cap: int = HISTORY_CAP,
        stream_maxlen: int = STREAM_MAXLEN,
        audit_cap: int = AUDIT_CAP,
    ) -> None:
        self._redis = client
        self.audit_cap = audit_cap
        self.prefix = prefix
        self.endpoint = endpoint
        self.history_cap = history_cap
        self.stream_maxlen = stream_maxlen
        self._script = client.register_script(APPLY_LUA)
        self._case_script = client.register_script(CASE_LUA)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "tierstream",
        timeout: float = SOCKET_TIMEOUT_S,
        **kwargs: Any,
    ) -> AsyncTierStore:
        """A store on its own connection pool; ``timeout`` bounds connect and each reply."""
        _check_url(url)
        # One quick reconnect attempt covers a stale pooled connection after a Redis
        # restart; longer outages are the caller's to back off from.
        client = aredis.Redis.from_url(
            url,
            retry=AsyncRetry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            **_redis_kwargs(timeout),
        )
        return cls(client, prefix=prefix, endpoint=_endpoint(url), **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AsyncTierStore:
        return cls.from_url(
            settings.redis_url.get_secret_value(), prefix=settings.redis_key_prefix, **kwargs
        )

    async def apply_change(self, change: TierChange) -> bool:
        """Apply one change; ``True`` if it was newer than the stored one."""
        keys, args = script_call(self.prefix, change, self.history_cap, self.stream_maxlen)
        try:
            result = await self._script(keys=keys, args=args)
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return bool(result)

    async def apply_many(self, changes: Iterable[TierChange]) -> list[bool]:
        """Apply a batch in one round trip (``MULTI``/``EXEC`` of script calls).

        The batch is atomic on the server: either every script call runs or none
        does. On a connection error or timeout the outcome is unknown and
        ``StoreUnavailable`` is raised; re-applying the same batch is safe
        (idempotent), though calls that did land then report ``False``.
        """
        calls = [script_call(self.prefix, c, self.history_cap, self.stream_maxlen) for c in changes]
        return await self._run_batch(calls, APPLY_SHA, APPLY_LUA)

    async def _run_batch(self, calls: Sequence[tuple[list[str], list[str | int]]], sha: str,
                         script: str) -> list[bool]:
        """Run ``calls`` as one batch; ``True`` for each that wrote, ``StoreUnavailable`` when Redis is down."""
        if not calls:
            return []
        try:
            results = await self._exec_batch(calls, sha, script)
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        for r in results:
            if isinstance(r, Exception):
                # A script error (e.g. WRONGTYPE on a foreign key) is a bug or a
                # misconfigured prefix, not an outage: surface it.
                raise r
        return [bool(r) for r in results]

    async def _exec_batch(self, calls: Sequence[tuple[list[str], list[str | int]]], sha: str,
                          script: str) -> list[Any]:
        """Run ``calls`` of one script in one ``MULTI``/``EXEC``, loading the script once if Redis lost it."""
        for attempt in (1, 2):
            async with self._redis.pipeline(transaction=True) as pipe:
                for keys, args in calls:
                    pipe.evalsha(sha, len(keys), *keys, *args)
                results = cast(list[Any], await pipe.execute(raise_on_error=False))
            if attempt == 2 or not any(isinstance(r, NoScriptError) for r in results):
                return results
            # Script cache flushed (Redis restarted, SCRIPT FLUSH, failover).
            # EXEC is atomic, so nothing of this batch ran: load and redo it.
            log.info("a store script is missing from the Redis script cache; reloading")
            await _untyped(self._redis).script_load(script)
        raise AssertionError("unreachable")

    async def record_audit(self, entries: Iterable[AuditEntry]) -> list[bool]:
        """Keep each entry in its entity's audit trail once (by event id); ``True`` for those new there.

        Atomic per batch and safe to repeat, as :meth:`apply_many`; ``StoreUnavailable`` when
        Redis does not answer.
        """
        return await self._run_batch([audit_call(self.prefix, e, self.audit_cap) for e in entries],
                                     AUDIT_SHA, AUDIT_LUA)

    async def audit(self, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
        """Return an entity's audit trail, latest ``occurred_at`` first (empty when it has none)."""
        check_entity_type(entity_type)
        try:
            items = await self._redis.lrange(audit_key(self.prefix, entity_type, entity_id), 0, -1)
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        entries = [AuditEntry.model_validate_json(item) for item in items]
        entries.sort(key=lambda e: (e.occurred_at, e.event_id), reverse=True)
        return [e.model_dump(mode="json") for e in entries]

    async def publish_notices(self, notices: Iterable[TierNotice]) -> int:
        """Publish notices on their entity type's channel, in order, in one round trip; return how many."""
        return await self._publish([(notice_channel(self.prefix, n.entity_type), n.model_dump_json()) for n in notices])

    async def publish_alerts(self, alerts: Iterable[SupplierAlert]) -> int:
        """Publish supplier alerts on the alert channel, in order, in one round trip; return how many."""
        return await self._publish([(alert_channel(self.prefix), a.model_dump_json()) for a in alerts])

    async def _publish(self, msgs: list[tuple[str, str]]) -> int:
        if not msgs:
            return 0
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for channel, body in msgs:
                    pipe.publish(channel, body)
                await pipe.execute()
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return len(msgs)

    async def distribution(self, entity_type: str) -> list[Cell]:
        """Return the tier counters of an entity type: one cell per stored tier, segment and group."""
        check_entity_type(entity_type)
        try:
            raw = await self._redis.hgetall(dist_key(self.prefix, entity_type))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return parse_cells(raw)

    async def apply_cases(self, cases: Iterable[SupplierCase]) -> list[bool]:
        """Keep each supplier's latest case event, in order (a replayed or older one changes nothing)."""
        done: list[bool] = []
        try:
            for c in cases:
                n = int(c.case_id.rsplit(":", 1)[1])
                args = [n, 1 if c.status == "opened" else 2, c.status, c.model_dump_json()]
                done.append(bool(await self._case_script(keys=[case_key(self.prefix, c.supplier_id)], args=args)))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return done

    async def get_case(self, supplier_id: str) -> dict[str, Any] | None:
        """The supplier's latest case event (``open`` while its status is ``opened``); ``None`` if never any."""
        try:
            raw = await self._redis.hget(case_key(self.prefix, supplier_id), "case")
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        if raw is None:
            return None
        doc: dict[str, Any] = json.loads(raw)
        return {"open": doc["status"] == "opened", **doc}

    async def get(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        """The current tier of an entity, decoded; ``None`` if it has none yet."""
        check_entity_type(entity_type)
        try:
            raw = await self._redis.hgetall(tier_key(self.prefix, entity_type, entity_id))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return _decode_current(entity_type, entity_id, raw)

    async def current(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        """The current tier with the messages of its change (``reason_codes``...), read in one transaction.

        The hash holds the words; the messages come from the latest change of the
        history, the same change (its ``change_id``), so a reader words them again.
        """
        check_entity_type(entity_type)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(tier_key(self.prefix, entity_type, entity_id))
                pipe.lrange(history_key(self.prefix, entity_type, entity_id), 0, 0)
                raw, latest = await pipe.execute()
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        out = _decode_current(entity_type, entity_id, raw)
        if out is not None and latest:
            change = json.loads(latest[0])
            if change.get("change_id") == out.get("change_id"):
                for name in ("reason_codes", "ungraded_reason_code", "next_tier_codes"):
                    if name in change:
                        out[name] = change[name]
        return out

    async def history(self, entity_type: str, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """Up to ``limit`` past changes of an entity, newest first."""
        check_entity_type(entity_type)
        limit = max(1, min(limit, self.history_cap))
        try:
            items = await self._redis.lrange(history_key(self.prefix, entity_type, entity_id), 0, limit - 1)
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return [json.loads(item) for item in items]

    async def record_rules(self, record: dict[str, Any]) -> None:
        """Keep one rules version's record (the first record of a version and sha stays)."""
        field = f"{record['version']}:{record['sha256']}"
        try:
            await self._redis.hsetnx(rules_key(self.prefix), field, json.dumps(record, sort_keys=True))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None

    async def rules_history(self) -> list[dict[str, Any]]:
        """Every rules version recorded, in the order they were taken."""
        try:
            raw = await self._redis.hgetall(rules_key(self.prefix))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return sorted((json.loads(v) for v in raw.values()), key=lambda r: (r["taken_at"], r["version"]))

    @property
    def client(self) -> aredis.Redis[str]:
        """The Redis client, for readers that follow the stream and the channels (the dashboard's live feed)."""
        return self._redis

    async def ping(self) -> bool:
        """``True`` if Redis answers; never raises."""
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await _untyped(self._redis).aclose()
