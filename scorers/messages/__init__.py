"""The message catalog: every reason and hint as an id with named parameters, rendered per language.

A message is a code, ``{"id": ..., "params": {...}}``, that outputs carry beside
their rendered text (``reason_codes`` beside ``reasons``...), so a reader renders
it again in another language. A parameter is plain text (an author, a reason, an
ISO date: shown as it is), a number, a nested code, a list of codes, or a term
(``{"term": name, "labels": {lang: label}}``: a tier or a dimension, shown as its
label in the language, else its ``*`` label, else its name).

Templates are ``str.format`` fields with these format specs: a Python number spec
(``{score:.1f}``) or ``num`` (a number already formatted the English way) give
the language's separators; ``plural:ONE:MANY`` picks by whether the value is 1;
``join:SEP`` renders a list of codes joined by ``SEP``.
"""

from __future__ import annotations

from string import Formatter
from typing import Any, Final

from tierstream.scorers.messages import en, es, zh

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "TEMPLATES",
    "Code",
    "code",
    "field_names",
    "render",
    "render_all",
    "term",
]

#: a message: ``{"id": str, "params": {name: value}}`` (plain JSON, as the outputs carry it)
Code = dict[str, Any]

DEFAULT_LANGUAGE: Final = "en"
#: the languages of the source articles, each with its templates by message id
TEMPLATES: Final[dict[str, dict[str, str]]] = {"en": en.TEMPLATES, "zh": zh.TEMPLATES, "es": es.TEMPLATES}
LANGUAGES: Final = tuple(TEMPLATES)

_SEPARATORS: Final = {"es": str.maketrans({",": ".", ".": ","})}  # 1,000.50 -> 1.000,50
_Parsed = list[tuple[str, str | None, str]]
_parsed: dict[tuple[str, str], _Parsed] = {}


def code(message_id: str, **params: Any) -> Code:
    """Return the code of message ``message_id`` with ``params``."""
    return {"id": message_id, "params": params}


def term(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Return a term parameter: ``name`` shown as its label in the language (``labels``), else as it is."""
    return {"term": name, "labels": labels or {}}


def field_names(template: str) -> set[str]:
    """Return the parameter names a template uses."""
    return {f for _, f, _, _ in Formatter().parse(template) if f is not None}


def _parse(lang: str, message_id: str) -> _Parsed:
    key = (lang, message_id)
    parsed = _parsed.get(key)
    if parsed is None:
        templates = TEMPLATES[lang]
        template = templates.get(message_id)
        if template is None:
            template = TEMPLATES[DEFAULT_LANGUAGE][message_id]  # a missing id raises KeyError: a bug
        parsed = [(lit, f, spec or "") for lit, f, spec, _ in Formatter().parse(template)]
        _parsed[key] = parsed
    return parsed


def _number(text: str, lang: str) -> str:
    table = _SEPARATORS.get(lang)
    return text.translate(table) if table else text


def _value(value: Any, spec: str, lang: str) -> str:
    if spec.startswith("join:"):
        return spec[5:].join(_value(v, "", lang) for v in value)
    if spec.startswith("plural:"):
        one, _, many = spec[7:].partition(":")
        return one if value == 1 else many
    if isinstance(value, dict):
        if "term" in value:
            labels = value.get("labels") or {}
            return str(labels.get(lang) or labels.get("*") or value["term"])
        return render(value, lang)
    if spec == "num":
        return _number(str(value), lang)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return _number(format(value, spec), lang)


def render(message: Code, lang: str = DEFAULT_LANGUAGE) -> str:
    """Return ``message`` in words of language ``lang`` (English for a language without templates)."""
    if lang not in TEMPLATES:
        lang = DEFAULT_LANGUAGE
    params = message.get("params") or {}
    out: list[str] = []
    for literal, name, spec in _parse(lang, message["id"]):
        out.append(literal)
        if name is not None:
            out.append(_value(params[name], spec, lang))
    return "".join(out)


def render_all(messages: list[Code], lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """Return each of ``messages`` in words of language ``lang``."""
    return [render(m, lang) for m in messages]
