"""Every error tierstream raises, under one base class, and validation errors as one line.

Catch :class:`TierstreamError` to catch them all; each also derives from the
built-in exception it used to be (``ValueError`` for bad input, ``RuntimeError``
for a failed operation), so existing ``except`` clauses keep working.
"""

from __future__ import annotations

from pydantic import ValidationError

__all__ = [
    "BrokerStartError",
    "ClientError",
    "ForeignCredit",
    "InputError",
    "KafkaConfigError",
    "MappingError",
    "RulesError",
    "ShardMismatch",
    "SourcesError",
    "StoreStartError",
    "StoreUnavailable",
    "TierstreamError",
    "describe",
    "error_kind",
    "first_field",
]


class TierstreamError(Exception):
    """The base of every error tierstream raises on purpose."""


class RulesError(TierstreamError, ValueError):
    """A rules file that cannot be used; the message names the file and the place."""


class SourcesError(TierstreamError, ValueError):
    """A sources file that cannot be used; the message names the file and the place."""


class MappingError(TierstreamError, ValueError):
    """A source's payload that does not map to an event: names the source and the event field.

    ``field`` is the event field being mapped (``""`` for the payload as a whole).
    """

    def __init__(self, source: str, field: str, message: str) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"source {source!r}: {where}{message}")
        self.source = source
        self.field = field
        self.message = message


class StoreUnavailable(TierstreamError):
    """Redis could not be reached (connection refused, timeout, auth, loading...).

    The message names ``host:port`` only, never the URL or a password.
    """


class KafkaConfigError(TierstreamError, ValueError):
    """The Kafka settings are incomplete or contradictory (message names env vars only)."""


class ClientError(TierstreamError, RuntimeError):
    """A client operation failed (message safe to print: no credentials)."""


class BrokerStartError(TierstreamError, RuntimeError):
    """The broker process exited, or never answered a metadata request, during start()."""


class StoreStartError(TierstreamError, RuntimeError):
    """The embedded Redis-compatible server exited, or never answered PING, during start()."""


class ShardMismatch(TierstreamError, RuntimeError):
    """A shard met an event or a credit of another shard: the split was not exact."""


class InputError(TierstreamError, ValueError):
    """An input line that cannot be used, with its line number.

    ``field``, ``value`` and ``kind`` (as :func:`error_kind` names it) say what
    was wrong with it, for the rejects file of ``tierstream score``.
    """

    def __init__(
        self, lineno: int, message: str, *, field: str = "", value: object = None, kind: str = "invalid_event"
    ) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno
        self.message = message
        self.field = field
        self.value = value
        self.kind = kind


class ForeignCredit(TierstreamError, RuntimeError):
    """A shard of a parallel run earned a referral credit for an entity another shard holds."""

_MAX_SHOWN = 60


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _where(loc: tuple[int | str, ...]) -> str:
    """``<event type>.<field>``: pydantic's location without its union/validator wrappers."""
    return ".".join(str(p) for p in loc if not str(p).startswith(("function-", "tagged-union"))) or "event"


def first_field(exc: ValidationError) -> tuple[str, object]:
    """The place (as :func:`describe` names it) and the input of the first error (``None``: missing)."""
    errors = exc.errors(include_url=False)
    if not errors:
        return "event", None
    first = errors[0]
    return _where(first["loc"]), None if first["type"] == "missing" else first.get("input")


def describe(exc: ValidationError) -> str:
    """``order.amount: Input should be a valid number (got 'NaN')``; several errors joined by ``; ``.

    The location drops pydantic's internal union/validator wrappers so it reads
    as ``<event type>.<field>``.
    """
    parts = []
    for err in exc.errors(include_url=False):
        where = _where(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in {"missing", "model_type", "union_tag_not_found", "union_tag_invalid"}:
            parts.append(f"{where}: {msg}")
        else:
            parts.append(f"{where}: {msg} (got {_show(err.get('input'))})")
    return "; ".join(parts)


def error_kind(exc: ValidationError) -> str:
    """A short machine-readable class of the first error, for metrics and dead letters."""
    first = exc.errors(include_url=False)[0]["type"] if exc.errors() else "invalid"
    if first == "json_invalid":
        return "invalid_json"
    if first in {"union_tag_not_found", "union_tag_invalid"}:
        return "unknown_type"
    if first == "missing":
        return "missing_field"
    return "invalid_event"
