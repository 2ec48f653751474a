"""Rules validation: the default rules load; each kind of bad rules file is refused, saying why."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tierstream.schemas.errors import RulesError
from tierstream.schemas.rules import load_rules, parse_rules


def _default_doc() -> dict[str, Any]:
    text = resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def _refused(doc: dict[str, Any]) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(yaml.safe_dump(doc), "variant.yaml")
    msg = str(info.value)
    assert msg.startswith("variant.yaml: ")
    return msg


def test_default_rules_load() -> None:
    rules = load_rules()
    assert rules.version
    assert rules.customer.tier_names() == ["key", "general", "potential"]
    assert rules.supplier.tier_names() == ["excellent", "good", "qualified", "unqualified"]
    for er in (rules.customer, rules.supplier):
        assert abs(sum(d.weight for d in er.dimensions.values()) - 1) < 1e-9
        assert er.tiers[-1].min_score == 0
    assert rules.customer.tiers_for("wholesale")[0].min_score == 75
    assert rules.customer.tiers_for(None) == rules.customer.tiers
    # the default text re-parses to the same rules (another text: another sha256)
    again = parse_rules(yaml.safe_dump(_default_doc()))
    assert again.model_dump() == rules.model_dump() and again.sha256 != rules.sha256


def test_weights_not_summing_to_one() -> None:
    doc = _default_doc()
    doc["customer"]["dimensions"]["recency"]["weight"] = 0.3
    msg = _refused(doc)
    assert "customer: dimension weights must sum to 1, they sum to 1.1" in msg
    assert "recency=0.3" in msg


def test_unknown_metric() -> None:
    doc = _default_doc()
    doc["supplier"]["dimensions"]["quality"]["metric"] = "quality"
    msg = _refused(doc)
    assert "supplier.dimensions.quality: unknown metric 'quality'" in msg
    assert "quality_pass_rate" in msg  # the known ones are listed


def test_overlapping_tiers() -> None:
    doc = _default_doc()
    doc["customer"]["tiers"][1]["min_score"] = 70
    msg = _refused(doc)
    assert "customer.tiers: tiers overlap" in msg
    assert "[70.0, 70.0, 0.0]" in msg


def test_overlapping_group_tiers() -> None:
    doc = _default_doc()
    doc["customer"]["groups"]["wholesale"]["tiers"][0]["min_score"] = 45
    assert "customer.groups.wholesale.tiers: tiers overlap" in _refused(doc)


def test_lowest_tier_not_zero() -> None:
    doc = _default_doc()
    doc["supplier"]["tiers"][-1]["min_score"] = 10
    assert "supplier.tiers: the lowest tier must have min_score 0" in _refused(doc)


def test_tiers_out_of_order() -> None:
    doc = _default_doc()
    doc["customer"]["tiers"].reverse()
    assert "customer.tiers: list tiers from best to worst" in _refused(doc)


def test_duplicate_tier_names() -> None:
    doc = _default_doc()
    doc["customer"]["tiers"][1]["name"] = "key"
    assert "customer.tiers: tier names must be unique" in _refused(doc)


@pytest.mark.parametrize("scale", [[[0, 100], [30, 85], [30, 60]], [[0, 100], [30, 85], [20, 60]]])
def test_non_increasing_scale(scale: list[list[float]]) -> None:
    doc = _default_doc()
    doc["customer"]["dimensions"]["recency"]["scale"] = scale
    msg = _refused(doc)
    assert "customer.dimensions.recency" in msg
    assert "strictly increasing" in msg


def test_scale_score_out_of_range() -> None:
    doc = _default_doc()
    doc["supplier"]["dimensions"]["price"]["scale"] = [[0.85, 120], [1.25, 0]]
    msg = _refused(doc)
    assert "supplier.dimensions.price" in msg and "120" in msg


def test_unknown_rules_key() -> None:
    doc = _default_doc()
    doc["customer"]["windows_days"] = 30
    assert "customer.windows_days" in _refused(doc)


def test_rules_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(RulesError, match=r"^bad\.yaml: not valid YAML"):
        parse_rules("customer: [", "bad.yaml")
    with pytest.raises(RulesError, match=r"^bad\.yaml: expected a mapping at the top level, got list"):
        parse_rules("- 1\n", "bad.yaml")


def test_unreadable_rules_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yaml")


def test_every_tier_name_lists_a_group_s_own_tiers_after_the_default_ones() -> None:
    rules = load_rules()
    wholesale = rules.customer.groups["wholesale"]
    own = [t.model_copy(update={"name": "platinum"}) if t.name == "key" else t for t in wholesale.tiers or []]
    groups = {**rules.customer.groups, "wholesale": wholesale.model_copy(update={"tiers": own})}
    with_platinum = rules.model_copy(update={"customer": rules.customer.model_copy(update={"groups": groups})})
    assert with_platinum.of("customer").every_tier_name() == ["key", "general", "potential", "platinum"]
    assert rules.of("customer").every_tier_name() == ["key", "general", "potential"]  # wholesale repeats them
    assert rules.of("supplier").every_tier_name() == ["excellent", "good", "qualified", "unqualified"]
