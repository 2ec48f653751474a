"""The key layout and the parsing of a stored sequence number."""

from __future__ import annotations

import json

import pytest

from tests.redis_store.helpers import change
from tierstream.streams.store.redis import key_layout, parse_seq


def test_parse_seq() -> None:
    assert parse_seq(change(42, entity_id="x:y:7")) == 42
    bad = change(1).model_copy(update={"change_id": "tc:customer:other:1"})
    with pytest.raises(ValueError):
        parse_seq(bad)
    bad = change(1).model_copy(update={"change_id": "tc:customer:c-1:abc"})
    with pytest.raises(ValueError):
        parse_seq(bad)


def test_key_layout_documents_every_key() -> None:
    text = key_layout("tp")
    for key in (
        "tp:tier:{entity_type}:{entity_id}",
        "tp:history:{entity_type}:{entity_id}",
        "tp:audit:{entity_type}:{entity_id}",
        "`tp:changes`",
        "tp:changes:{entity_type}",
        "tp:dist:{entity_type}",
        "tp:alerts:supplier",
    ):
        assert key in text
    assert json.dumps(text)  # plain text, embeddable anywhere
