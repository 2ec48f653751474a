"""The standard hostile corpora as messages, each with what must become of it.

JSONTestSuite's parsing cases (``tests/corpora/JSONTestSuite``) and the Big List of Naughty
Strings (``tests/corpora/blns``), vendored with their licences (``tests/corpora/README.md``
says from where and why). Every case is a whole message value; every naughty string is an
entity id (a customer's and a supplier's), a field value (an order id, a customer group, an
assessment's reason and author), a message key, and a whole message value.

The expectations are derived from the rules as written, not from the schema code:
:func:`identifier_ok` is the identifier rule of ``schemas/events.py`` restated by hand, and
a JSONTestSuite case's reason follows from its class (``y_`` must parse, ``n_`` must not).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from tests.faults.hostile import Sent
from tests.faults.inputs import compact, order
from tierstream.schemas.settings import Settings
from tierstream.streams.kafka.topics import TopicNames, entity_key

__all__ = ["ACCEPTED_N", "COLLIDERS", "CORPORA", "MAX_EVENT_BYTES", "case_reason", "corpus_messages", "identifier_ok",
           "json_test_suite", "naughty_strings", "reason_ok"]

CORPORA = Path(__file__).resolve().parents[1] / "corpora"

#: ``TIERSTREAM_MAX_EVENT_BYTES``'s default
MAX_EVENT_BYTES = Settings.model_fields["max_event_bytes"].default

#: ``n_`` cases the parser accepts: NaN and Infinity literals, refused afterwards by the
#: models (``allow_inf_nan=False``) as ``invalid_event`` (docs/RELIABILITY.md, scenario 4).
ACCEPTED_N = frozenset({"n_number_NaN.json", "n_number_infinity.json", "n_number_minus_infinity.json"})

#: Entity ids picked to collide if the key layout were naive: separators, glob and hash-tag
#: characters, another entity's key as an id, case, unicode normalisation forms, look-alikes.
COLLIDERS = [
    "a", "A", "a:b", "a:b:c", "a:", ":a", "customer:a", "supplier:a", "tier:customer:a", "a:1", "tc:customer:a:1",
    "{a}", "a{b}", "{a", "a*", "*", "a?", "[a]", "a\\", "a/b", "a%3Ab", "a b",
    "\u00e9", "e\u0301", "\u00c9", "E\u0301", "\ufb01", "fi", "\u212b", "\u00c5", "A\u030a",
    "a\u200b", "\u200ba", "a\u00ad", "\uff41", "\u0430",
]


def json_test_suite() -> list[tuple[str, bytes]]:
    """Every parsing case, (file name, bytes as shipped), sorted by name."""
    d = CORPORA / "JSONTestSuite" / "test_parsing"
    return [(p.name, p.read_bytes()) for p in sorted(d.glob("*.json"))]


def naughty_strings() -> list[str]:
    """Every string of the list (``blns.json``), in its order."""
    strings: list[str] = json.loads((CORPORA / "blns" / "blns.json").read_text(encoding="utf-8"))
    return strings


def _control(ch: str) -> bool:
    return ch < " " or ch == "\x7f"


def _space(ch: str) -> bool:
    """Unicode White_Space, the class the identifier pattern's ``\\s`` means."""
    return ch in "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" or "\u2000" <= ch <= "\u200a"


def identifier_ok(s: str) -> bool:
    """The identifier rule by hand: 1 to 128 characters, no control character, no space at either end."""
    return 1 <= len(s) <= 128 and not any(_control(c) for c in s) and not _space(s[0]) and not _space(s[-1])


def reason_ok(s: str) -> bool:
    """An assessment's reason by hand: 1 to 1,000 characters, at least one visible one."""
    return 1 <= len(s) <= 1000 and any(c.isprintable() and not c.isspace() for c in s)


def case_reason(name: str, raw: bytes, limit: int = MAX_EVENT_BYTES) -> str | None:
    """The dead letter's reason a JSONTestSuite case must get as a whole message (``None``: either).

    Over ``limit`` bytes (one case: 100,000 opening brackets), ``too_large`` before any parsing.

    ``y_`` cases parse: an object names no ``type`` (``unknown_type``), anything else is no
    event (``invalid_event``). ``n_`` cases do not parse (``invalid_json``), but for
    :data:`ACCEPTED_N`. ``i_`` cases are the parser's choice: ``invalid_json`` or ``invalid_event``.
    """
    if len(raw) > limit:
        return "too_large"
    if name.startswith("y_"):
        return "unknown_type" if isinstance(json.loads(raw), dict) else "invalid_event"
    if name.startswith("n_"):
        return "invalid_event" if name in ACCEPTED_N else "invalid_json"
    return None


def _as_id(kind: str, s: str, eid: str) -> dict[str, Any]:
    if kind == "customer":
        return order(eid, s)
    return {"type": "order", "event_id": eid, "occurred_at": order(eid, "x")["occurred_at"], "order_id": "p-" + eid,
            "supplier_id": s, "amount": 990.0, "market_amount": 1000.0}


def _text(doc: dict[str, Any]) -> bytes:
    """JSON with non-ASCII written raw (UTF-8), as most producers would send it."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def corpus_messages(names: TopicNames, cases: Sequence[tuple[str, bytes]], strings: Sequence[str],
                    anchor: str = "c-corpora", groups: Collection[str] = ("retail", "wholesale")) -> list[Sent]:
    """The corpora as raw messages on tierstream's inbound topics, each with its expectation.

    ``anchor`` is the customer whose valid events carry a naughty field value or key;
    ``groups`` the customer groups of the rules (any other ``customer_group`` is refused).
    Event ids are unique across the whole list, so every valid event counts once.
    """
    orders, assessments = names.inbound("order"), names.inbound("assessment")
    akey = entity_key("customer", anchor).encode()
    msgs = [Sent(orders, akey, raw, "dlq:" + (case_reason(name, raw) or "*"), "jsts:" + name)
            for name, raw in cases]
    for i, s in enumerate(strings):
        ok, visible, b = identifier_ok(s), reason_ok(s), s.encode("utf-8")
        for kind in ("customer", "supplier"):
            doc = _as_id(kind, s, f"bl-{kind[0]}-{i}")
            key = entity_key(kind, s).encode()
            msgs.append(Sent(orders, key, _text(doc), "valid" if ok else "dlq:invalid_event", f"blns-id-{kind}"))
        msgs.append(Sent(orders, akey, _text(order(f"bl-o-{i}", anchor, order_id=s)),
                         "valid" if ok else "dlq:invalid_event", "blns-order-id"))
        msgs.append(Sent(orders, akey, _text(order(f"bl-g-{i}", anchor, customer_group=s)),
                         "valid" if ok and s in groups else "dlq:invalid_event", "blns-group"))
        assessment = {"type": "assessment", "event_id": f"bl-a-{i}", "occurred_at": "2026-10-01T11:00:00Z",
                      "entity_type": "customer", "entity_id": anchor, "prospect_score": 50.0, "reason": s,
                      "expires_at": "2027-06-01T00:00:00Z", "author": s}
        msgs.append(Sent(assessments, akey, _text(assessment),
                         "valid" if ok and visible else "dlq:invalid_event", "blns-reason-author"))
        msgs.append(Sent(orders, b, compact(order(f"bl-k-{i}", anchor)), "valid", "blns-key"))
        msgs.append(Sent(names.repartition, b, compact(order(f"bl-r-{i}", anchor)), "dlq:key_mismatch",
                         "blns-key-repartition"))
        msgs.append(Sent(orders, akey, b, "dlq:*", "blns-value"))
    return msgs

