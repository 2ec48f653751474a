"""Configuration files in YAML (the rules, the sources): read into a model, every wrong place named."""

from __future__ import annotations

import re
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tierstream.schemas.errors import TierstreamError

__all__ = ["parse_yaml_model"]

M = TypeVar("M", bound=BaseModel)

#: pydantic's validator and literal wrappers in an error's location: not places of the file
_WRAPPER = re.compile(r"^function-|^literal\[")


def parse_yaml_model(text: str, where: str, model: type[M], error: type[TierstreamError], what: str,
                     top: str) -> M:
    """Validate YAML ``text`` as ``model``; raise ``error`` naming ``where`` and every wrong place.

    ``what`` names the file in the message (``invalid rules:``), ``top`` what its top level
    must be (``a mapping with a 'sources' key``). Each wrong place is one line,
    ``  customer.tiers.0.min_score: Input should be ...``.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{where}: expected {top}, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            place = ".".join(str(p) for p in err["loc"] if not _WRAPPER.match(str(p)))
            lines.append(f"  {place or '(top level)'}: {err['msg'].removeprefix('Value error, ')}")
        raise error(f"{where}: invalid {what}:\n" + "\n".join(lines)) from None
