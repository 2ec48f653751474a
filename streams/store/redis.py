"""The current-tier store in Redis: what downstream systems read.

Key layout (``{prefix}`` is ``Settings.redis_key_prefix``, ``tierstream`` by default;
``{entity_type}`` is ``customer`` or ``supplier``; ``{entity_id}`` is used verbatim and
may itself contain ``:``):

``{prefix}:tier:{entity_type}:{entity_id}`` (hash)
    The entity's current tier. Fields: ``tier``, ``score``, ``previous_tier`` (empty
    string when none), ``direction`` (``initial``/``upgrade``/``downgrade``),
    ``components`` (JSON object dimension -> 0..100), ``reasons`` (JSON list of
    strings), ``next_tier`` (JSON object or ``null``), ``rules_version``,
    ``change_id`` (``tc:<entity_type>:<entity_id>:<seq>``), ``seq`` (integer, the
    change_id suffix), ``occurred_at`` (ISO-8601 event time of the change) and
    ``updated_at`` (ISO-8601 wall clock of the write).

``{prefix}:history:{entity_type}:{entity_id}`` (list)
    TierChange JSON documents, newest first, capped at ``HISTORY_CAP`` entries.

``{prefix}:changes`` (stream)
    Every applied change, ``XADD ... MAXLEN ~ STREAM_MAXLEN``, one field ``change``
    holding the TierChange JSON. Consumers can tail it with ``XREAD``/consumer groups.

``{prefix}:changes:{entity_type}`` (pub/sub channel)
    The TierChange JSON of every applied change, for live listeners (fire and forget).

Writes are idempotent and monotone per entity: one Lua script compares the change's
sequence number with the stored ``seq`` and only when it is strictly newer updates the
hash, pushes the history, appends to the stream and publishes -- all atomically. A
redelivered change or one older than what is stored changes nothing and emits nothing,
which is what at-least-once delivery from Kafka needs.

All keys of one change are touched by one script, so this layout needs a single Redis
(or a primary with replicas); it is not Redis-Cluster-safe (the keys hash to different
slots).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast, get_args
from urllib.parse import urlsplit

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from tierstream.schemas.errors import StoreUnavailable
from tierstream.schemas.events import EntityType
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.settings import Settings

__all__ = [
    "APPLY_LUA",
    "ENTITY_TYPES",
    "HISTORY_CAP",
    "STREAM_MAXLEN",
    "AsyncTierStore",
    "StoreUnavailable",
    "TierStore",
    "change_channel",
    "changes_stream_key",
    "history_key",
    "key_layout",
    "parse_seq",
    "tier_key",
]

log = logging.getLogger(__name__)

ENTITY_TYPES: Final[tuple[str, ...]] = get_args(EntityType)
HISTORY_CAP: Final = 100
STREAM_MAXLEN: Final = 100_000
SOCKET_TIMEOUT_S: Final = 2.0

# KEYS[1] tier hash, KEYS[2] history list, KEYS[3] changes stream
# ARGV[1] seq, ARGV[2] change JSON, ARGV[3] history cap, ARGV[4] stream maxlen,
# ARGV[5] pub/sub channel, ARGV[6..] field/value pairs for the hash (seq included).
# Returns 1 when applied, 0 when the stored seq is already >= this one.
APPLY_LUA: Final = """
local seq = tonumber(ARGV[1])
local stored = redis.call('HGET', KEYS[1], 'seq')
if stored and tonumber(stored) and tonumber(stored) >= seq then
  return 0
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'change', ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1
"""
APPLY_SHA: Final = hashlib.sha1(APPLY_LUA.encode()).hexdigest()


# --- keys --------------------------------------------------------------------


def tier_key(prefix: str, entity_type: str, entity_id: str) -> str:
    return f"{prefix}:tier:{entity_type}:{entity_id}"


def history_key(prefix: str, entity_type: str, entity_id: str) -> str:
    return f"{prefix}:history:{entity_type}:{entity_id}"


def changes_stream_key(prefix: str) -> str:
    return f"{prefix}:changes"


def change_channel(prefix: str, entity_type: str) -> str:
    return f"{prefix}:changes:{entity_type}"


def key_layout(prefix: str = "tierstream") -> str:
    """The key layout as Markdown, for the README and ``--help`` texts."""
    return "\n".join(
        [
            f"- `{tier_key(prefix, '{entity_type}', '{entity_id}')}` (hash): current tier;"
            " fields tier, score, previous_tier (empty when none), direction, components"
            " (JSON), reasons (JSON), next_tier (JSON or null), rules_version, change_id,"
            " seq (int, suffix of change_id `tc:<type>:<id>:<seq>`), occurred_at (event"
            " time), updated_at (wall clock of the write)",
            f"- `{history_key(prefix, '{entity_type}', '{entity_id}')}` (list): TierChange"
            f" JSON, newest first, at most {HISTORY_CAP}",
            f"- `{changes_stream_key(prefix)}` (stream, MAXLEN ~ {STREAM_MAXLEN}): field"
            " `change` = TierChange JSON, one entry per applied change",
            f"- `{change_channel(prefix, '{entity_type}')}` (pub/sub channel): TierChange"
            " JSON of every applied change",
            "",
            "Writes are atomic, idempotent and monotone per entity: a change whose seq is"
            " not greater than the stored seq is ignored (nothing written, nothing emitted).",
        ]
    )


def parse_seq(change: TierChange) -> int:
    """The per-entity sequence number: the suffix of ``tc:<type>:<id>:<seq>``.

    The prefix must match the change's own entity (ids may contain ``:``, so the
    sequence is what follows the expected prefix, not a naive split).
    """
    expected = f"tc:{change.entity_type}:{change.entity_id}:"
    if not change.change_id.startswith(expected):
        raise ValueError(f"change_id {change.change_id!r} does not match {expected}<seq>")
    suffix = change.change_id[len(expected) :]
    if not suffix.isdigit():
        raise ValueError(f"change_id {change.change_id!r} has no integer sequence suffix")
    return int(suffix)


def _check_entity_type(entity_type: str) -> None:
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"unknown entity_type {entity_type!r} (expected one of {ENTITY_TYPES})")


# --- encoding ----------------------------------------------------------------


def _script_call(
    prefix: str,
    change: TierChange,
    history_cap: int,
    stream_maxlen: int,
) -> tuple[list[str], list[str | int]]:
    """KEYS and ARGV of the apply script for one change."""
    seq = parse_seq(change)
    et, eid = change.entity_type, change.entity_id
    change_json = change.model_dump_json()
    dumped = change.model_dump(mode="json")
    fields: list[str | int] = [
        "tier", change.tier,
        "score", repr(float(change.score)),
        "previous_tier", change.previous_tier or "",
        "direction", change.direction,
        "components", json.dumps(dumped["components"], separators=(",", ":")),
        "reasons", json.dumps(dumped["reasons"], ensure_ascii=False),
        "next_tier", json.dumps(dumped["next_tier"], ensure_ascii=False),
        "rules_version", change.rules_version,
        "change_id", change.change_id,
        "seq", seq,
        "occurred_at", dumped["occurred_at"],
        "updated_at", datetime.now(UTC).isoformat(timespec="milliseconds"),
    ]  # fmt: skip
    keys = [tier_key(prefix, et, eid), history_key(prefix, et, eid), changes_stream_key(prefix)]
    args: list[str | int] = [
        seq,
        change_json,
        history_cap,
        stream_maxlen,
        change_channel(prefix, et),
        *fields,
    ]
    return keys, args


def _decode_current(entity_type: str, entity_id: str, raw: dict[str, str]) -> dict[str, Any] | None:
    """The stored hash as plain JSON-ready values (JSON fields parsed, numbers typed)."""
    if not raw:
        return None
    out: dict[str, Any] = {"entity_type": entity_type, "entity_id": entity_id}
    for name, value in raw.items():
        if name in ("components", "reasons", "next_tier"):
            out[name] = json.loads(value)
        elif name == "score":
            out[name] = float(value)
        elif name == "seq":
            out[name] = int(value)
        elif name == "previous_tier":
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
    ) -> None:
        self._redis = client
        self.prefix = prefix
        self.endpoint = endpoint
        self.history_cap = history_cap
        self.stream_maxlen = stream_maxlen
        self._script = client.register_script(APPLY_LUA)

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
        keys, args = _script_call(self.prefix, change, self.history_cap, self.stream_maxlen)
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
        calls = [
            _script_call(self.prefix, c, self.history_cap, self.stream_maxlen) for c in changes
        ]
        if not calls:
            return []
        try:
            results = await self._exec_batch(calls)
            if any(isinstance(r, NoScriptError) for r in results):
                # Script cache flushed (Redis restarted, SCRIPT FLUSH, failover).
                # EXEC is atomic, so nothing of this batch ran: load and redo it.
                log.info("apply script missing from the Redis script cache; reloading")
                await _untyped(self._redis).script_load(APPLY_LUA)
                results = await self._exec_batch(calls)
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        for r in results:
            if isinstance(r, Exception):
                # A script error (e.g. WRONGTYPE on a foreign key) is a bug or a
                # misconfigured prefix, not an outage: surface it.
                raise r
        return [bool(r) for r in results]

    async def _exec_batch(self, calls: Sequence[tuple[list[str], list[str | int]]]) -> list[Any]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for keys, args in calls:
                pipe.evalsha(APPLY_SHA, len(keys), *keys, *args)
            return cast(list[Any], await pipe.execute(raise_on_error=False))

    async def get(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        """The current tier of an entity, decoded; ``None`` if it has none yet."""
        _check_entity_type(entity_type)
        try:
            raw = await self._redis.hgetall(tier_key(self.prefix, entity_type, entity_id))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return _decode_current(entity_type, entity_id, raw)

    async def history(
        self, entity_type: str, entity_id: str, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` past changes of an entity, newest first."""
        _check_entity_type(entity_type)
        limit = max(1, min(limit, self.history_cap))
        try:
            items = await self._redis.lrange(
                history_key(self.prefix, entity_type, entity_id), 0, limit - 1
            )
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return [json.loads(item) for item in items]

    async def ping(self) -> bool:
        """``True`` if Redis answers; never raises."""
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await _untyped(self._redis).aclose()


# --- sync store --------------------------------------------------------------


class TierStore:
    """Blocking variant for tests and the CLI."""

    def __init__(
        self,
        client: redis.Redis[str],
        *,
        prefix: str = "tierstream",
        endpoint: str = "redis",
        history_cap: int = HISTORY_CAP,
        stream_maxlen: int = STREAM_MAXLEN,
    ) -> None:
        self._redis = client
        self.prefix = prefix
        self.endpoint = endpoint
        self.history_cap = history_cap
        self.stream_maxlen = stream_maxlen
        self._script = client.register_script(APPLY_LUA)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "tierstream",
        timeout: float = SOCKET_TIMEOUT_S,
        **kwargs: Any,
    ) -> TierStore:
        _check_url(url)
        client = redis.Redis.from_url(
            url, retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1), **_redis_kwargs(timeout)
        )
        return cls(client, prefix=prefix, endpoint=_endpoint(url), **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> TierStore:
        return cls.from_url(
            settings.redis_url.get_secret_value(), prefix=settings.redis_key_prefix, **kwargs
        )

    @property
    def client(self) -> redis.Redis[str]:
        """The underlying client (tests use it to inspect and clean keys)."""
        return self._redis

    def apply_change(self, change: TierChange) -> bool:
        keys, args = _script_call(self.prefix, change, self.history_cap, self.stream_maxlen)
        try:
            return bool(self._script(keys=keys, args=args))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None

    def get(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        _check_entity_type(entity_type)
        try:
            raw = self._redis.hgetall(tier_key(self.prefix, entity_type, entity_id))
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return _decode_current(entity_type, entity_id, raw)

    def history(self, entity_type: str, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
        _check_entity_type(entity_type)
        limit = max(1, min(limit, self.history_cap))
        try:
            items = self._redis.lrange(
                history_key(self.prefix, entity_type, entity_id), 0, limit - 1
            )
        except _CONN_ERRORS as exc:
            raise _unavailable(self.endpoint, exc) from None
        return [json.loads(item) for item in items]

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except Exception:
            return False

    def close(self) -> None:
        self._redis.close()
