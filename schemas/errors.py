"""Turn pydantic validation errors into one line a person can act on."""

from __future__ import annotations

from pydantic import ValidationError

_MAX_SHOWN = 60


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def describe(exc: ValidationError) -> str:
    """``order.amount: Input should be a valid number (got 'NaN')``; several errors joined by ``; ``.

    The location drops pydantic's internal union/validator wrappers so it reads
    as ``<event type>.<field>``.
    """
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        where = ".".join(loc) or "event"
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
