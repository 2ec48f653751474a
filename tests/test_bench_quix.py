"""The bench's Quix Streams phase without a broker: the state adapter, the skip without the extra, the ratio."""

from __future__ import annotations

import importlib.util
from typing import Any, cast

import pytest

from tierstream.scorers.state import EntityState
from tierstream.streams.bench import quix
from tierstream.streams.bench.run import figures


class DictState:
    """Quix's ``State`` as the adapter uses it: bytes under string keys."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get_bytes(self, key: str, default: bytes | None = None) -> bytes | None:
        return self.data.get(key, default)

    def set_bytes(self, key: str, value: bytes) -> None:
        self.data[key] = value


def test_store_sends_the_outbox_and_keeps_the_state_without_it() -> None:
    state = DictState()
    store = quix.QuixStore(cast(Any, state))
    assert store.load(b"customer:c1") is None
    entity = EntityState("customer", "c1", clock=7)
    entity.outbox = [("t.tier-changes", b"customer:c1", b"first"), ("t.tiers", b"customer:c1", b"second")]
    store.save(b"customer:c1", entity)
    assert store.load(b"customer:c1") is entity  # the same message sees its own write

    sent = store.write()

    assert [(m.topic, m.value) for m in sent] == [("t.tier-changes", b"first"), ("t.tiers", b"second")]
    stored = EntityState.from_bytes(state.data["customer:c1"])
    assert stored.outbox == []  # Quix commits the outputs with the state: nothing left to resend
    assert (stored.kind, stored.entity_id, stored.clock) == ("customer", "c1", 7)
    assert store.write() == []  # written once


def test_phase_skipped_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "quixstreams" else real(name, *a))
    assert quix.missing() == "quixstreams is not installed (pip install -e '.[bench]')"
    doc: dict[str, Any] = {"phases": {"pipeline-batch": {"eps": 3000.0}, "quix": {"skipped": quix.missing()}}}
    out = figures(doc, "batch")
    assert out["quix_eps"] is None and out["vs_quix"] is None


def test_vs_quix_is_pipeline_over_quix() -> None:
    doc: dict[str, Any] = {"phases": {"pipeline-batch": {"eps": 3000.0}, "quix": {"eps": 2000.0}}}
    out = figures(doc, "batch")
    assert out["quix_eps"] == 2000.0
    assert out["vs_quix"] == pytest.approx(1.5)  # 3,000 / 2,000
