"""The lines an offline run could not use, one record each: ``tierstream score --rejects``.

A line is rejected when it is not a valid event (``kind`` as
:func:`schemas.errors.error_kind` names it: ``invalid_json``, ``unknown_type``,
``missing_field``, ``invalid_event``, the last also for what the rules refuse:
an unknown tier, customer group or currency), or when the scorer refuses its
time: ``too_old`` (before the entity's retention) or ``too_new`` (ahead of the
receiving clock by more than the rules allow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from tierstream.schemas.errors import InputError, describe, error_kind, first_field

__all__ = ["SHOWN", "TIME_KINDS", "Reject", "input_error"]

#: how many rejected lines a run keeps for the terminal (every one goes to ``--rejects``)
SHOWN = 20
#: kinds of a line refused for its time (counted as too old / too new, not as invalid)
TIME_KINDS = frozenset({"too_old", "too_new"})
_MAX_VALUE = 200  # characters of a rejected string value kept in the record


def _shown(value: Any) -> Any:
    if isinstance(value, bytes):  # an undecodable line: its text
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and len(value) > _MAX_VALUE:
        return value[: _MAX_VALUE - 3] + "..."
    return value


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected line: where, which field, the value read, why, and what kind of problem."""

    line: int
    kind: str
    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    @classmethod
    def of(cls, exc: InputError) -> Reject:
        return cls(exc.lineno, exc.kind, exc.field, _shown(exc.value), exc.message)

    def to_json(self) -> bytes:
        """The record as one JSON line (no newline): line, field, value, message, kind."""
        doc = {"line": self.line, "field": self.field, "value": self.value, "message": self.message,
               "kind": self.kind}
        return orjson.dumps(doc, default=str)


def input_error(lineno: int, exc: ValidationError) -> InputError:
    """The :class:`InputError` of a line pydantic refused: its first error's field and value."""
    field, value = first_field(exc)
    return InputError(lineno, describe(exc), field=field, value=value, kind=error_kind(exc))
