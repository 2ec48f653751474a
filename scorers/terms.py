"""The terms explanations name: a tier or a dimension, in the reader's language when the rules label it so."""

from __future__ import annotations

from typing import Any

from tierstream.schemas.rules import Dimension, Tier
from tierstream.scorers.messages import term

__all__ = ["dimension_term", "tier_term"]


def tier_term(tiers: list[Tier], name: str | None) -> dict[str, Any]:
    """Return tier ``name`` as a term: its rules' label per language when the rules give one, else its name.

    A tier's plain-string label describes it and is not used in explanations (they name the tier).
    """
    label = next((t.label for t in tiers if t.name == name), None)
    return term(name or "", {str(k): v for k, v in label.items()} if isinstance(label, dict) else None)


def dimension_term(name: str, dim: Dimension, default: str | None = None) -> dict[str, Any]:
    """Return dimension ``name`` as a term: its label (one for every language, or per language), else ``default``."""
    label = dim.label
    if isinstance(label, dict):
        return term(name, {**({"*": default} if default else {}), **{str(k): v for k, v in label.items()}})
    shown = label or default
    return term(name, {"*": shown} if shown else None)
