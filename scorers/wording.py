"""Outputs worded again in another language from the messages they carry (``reason_codes``...).

Works on the JSON form of a :class:`~schemas.outputs.TierChange`, an
:class:`~schemas.outputs.EntitySnapshot`, a :class:`~schemas.outputs.SupplierAlert`,
a :class:`~schemas.outputs.TierNotice` or a review row (as Redis, the output files
and ``tierstream review`` hold them). A document without messages (written before
they existed) keeps its words.
"""

from __future__ import annotations

from typing import IO, Any, TypeVar

from pydantic import BaseModel

from tierstream.scorers.messages import DEFAULT_LANGUAGE, LANGUAGES, render, render_all

__all__ = ["RewordedLines", "pick_language", "reword", "reworded"]

M = TypeVar("M", bound=BaseModel)

#: (field in words, field holding it as a message) of one message each: a notice's, a review row's
_SINGLE = (("message", "message_code"), ("detail", "detail_code"))


def reword(doc: dict[str, Any], language: str) -> dict[str, Any]:
    """Return ``doc`` with its reasons, ungraded reason, next-tier hints, message, hints and detail in ``language``."""
    out = dict(doc)
    for words, message in _SINGLE:
        if doc.get(message):
            out[words] = render(doc[message], language)
    if doc.get("hint_codes"):
        out["hints"] = render_all(doc["hint_codes"], language)
    codes = doc.get("reason_codes")
    if codes:
        out["reasons"] = render_all(codes, language)
    why = doc.get("ungraded_reason_code")
    if why:
        out["ungraded_reason"] = render(why, language)
    hints = doc.get("next_tier_codes")
    nxt = doc.get("next_tier")
    if hints and isinstance(nxt, dict):
        out["next_tier"] = {**nxt, "hints": render_all(hints.get("hints") or [], language),
                            "keep_hints": render_all(hints.get("keep_hints") or [], language)}
    return out


def pick_language(accept: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Return the language an HTTP ``Accept-Language`` header prefers among ours (``default``: none of them).

    ``zh-CN`` is ``zh``, ``es-ES`` is ``es``; the highest q-value wins, the header's order breaks ties;
    ``q=0`` refuses a language; ``*`` stands for ``default``.
    """
    if not accept:
        return default
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            name, _, value = p.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = default if tag == "*" else tag.split("-")[0].lower()
        if q <= 0 or lang not in LANGUAGES:
            continue
        if best is None or q > best[0]:
            best = (q, i, lang)
    return best[2] if best else default


def reworded(output: M, language: str) -> M:
    """Return ``output`` (a change, snapshot or alert) worded in ``language`` (itself in English)."""
    if language == DEFAULT_LANGUAGE:
        return output
    update: dict[str, Any] = {}
    for words, message in _SINGLE:
        if (m := getattr(output, message, None)) is not None:
            update[words] = render(m, language)
    if hint_codes := getattr(output, "hint_codes", None):
        update["hints"] = render_all(hint_codes, language)
    codes = getattr(output, "reason_codes", None)
    if codes:
        update["reasons"] = render_all(codes, language)
    why = getattr(output, "ungraded_reason_code", None)
    if why:
        update["ungraded_reason"] = render(why, language)
    hints, nxt = getattr(output, "next_tier_codes", None), getattr(output, "next_tier", None)
    if hints is not None and isinstance(nxt, BaseModel):
        update["next_tier"] = nxt.model_copy(update={"hints": render_all(hints.hints, language),
                                                     "keep_hints": render_all(hints.keep_hints, language)})
    return output.model_copy(update=update)


class RewordedLines:
    """A binary file of JSON lines of ``model`` that words each line written in ``language``."""

    def __init__(self, out: IO[bytes], model: type[BaseModel], language: str) -> None:
        self._out, self._model, self._language = out, model, language
        self._pending = b""

    def write(self, data: bytes) -> int:
        """Write ``data``, each complete line worded in the language."""
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            doc = self._model.model_validate_json(line)
            self._out.write(reworded(doc, self._language).model_dump_json().encode() + b"\n")
        return len(data)

    def flush(self) -> None:
        """Flush the file underneath (a partial line waits for its end)."""
        self._out.flush()
