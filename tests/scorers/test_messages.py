"""The message catalog: every message in every language, and reasons and hints worded in Chinese and Spanish.

The Chinese and Spanish expectations are derived by hand from the English ones
(``tests/scorers/test_explain.py``) and the templates: the same numbers, with
the Spanish separators (``2.000``, ``19,99``), the rules' tier labels per language.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import tierstream.scorers as scorers_package
from tests.scorers.helpers import assessment, at, changes, eod, feed, key_customer, order
from tests.scorers.test_explain import DEFAULT, NO_HYSTERESIS, THIRDS_10, THIRDS_DIMENSIONS, THIRDS_TIERS, small_rules
from tierstream.schemas.errors import RulesError
from tierstream.schemas.outputs import Language
from tierstream.schemas.rules import parse_rules
from tierstream.scorers.catalog import METRICS
from tierstream.scorers.engine import Grader, ts
from tierstream.scorers.messages import LANGUAGES, TEMPLATES, code, field_names, render, render_all
from tierstream.scorers.terms import tier_term
from tierstream.scorers.wording import pick_language, reword, reworded

_SPEC = re.compile(r"\{(\w+):(plural|join)")


def test_the_languages_are_those_of_the_settings() -> None:
    assert set(LANGUAGES) == set(Language.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_message_exists_in_each_language_with_the_same_parameters(lang: str) -> None:
    en, other = TEMPLATES["en"], TEMPLATES[lang]
    assert sorted(set(en) - set(other)) == [] and sorted(set(other) - set(en)) == []
    for message_id, template in en.items():
        assert field_names(other[message_id]) == field_names(template), message_id
        # a list is joined, a count picks a plural, in every language alike (plural is optional)
        joins = {n for n, kind in _SPEC.findall(template) if kind == "join"}
        assert joins == {n for n, kind in _SPEC.findall(other[message_id]) if kind == "join"}, message_id


def test_the_notice_and_review_messages_are_those_the_scorers_use() -> None:
    """Every notice and review detail the scorers build is in the catalog (so in every language), and only those."""
    # the sources, not the modules' files: under the compiled engine those are shared libraries
    source = "".join(p.read_text() for p in Path(scorers_package.__file__).parent.glob("*.py"))
    used = set(re.findall(r'"((?:notice|review)\.[a-z_]+)"', source))
    assert used == {m for m in TEMPLATES["en"] if m.split(".")[0] in ("notice", "review")}
    assert len(used) == 16


def test_every_metric_has_its_name_hint_and_absence_in_the_catalog() -> None:
    for name, metric in METRICS.items():
        assert f"metric.{name}" in TEMPLATES["en"]
        assert (f"hint.{name}" in TEMPLATES["en"]) == (metric.hint is not None), name
        if metric.absent is not None:
            assert TEMPLATES["en"][f"absent.{name}"] == metric.absent


@pytest.mark.parametrize("name", [n for n, m in METRICS.items() if m.hint is not None])
def test_the_english_hint_is_the_metric_s_own_template(name: str) -> None:
    metric = METRICS[name]
    assert metric.hint is not None
    for current, target in ((0.0, 1.0), (2.0, 5.0), (100.0, 2100.0), (0.5, 0.93)):
        n = -int(-(target - current - 1e-6) // 1)
        expected = metric.hint.format(n=n, s="s" if n != 1 else "", amount=f"{n:,}",
                                      target=metric.show(metric.reaching(target)))
        assert metric.hint_to(current, target) == expected


def test_a_reason_in_the_three_languages() -> None:
    # "score 72.4 reached key (minimum 70)": the default rules label key 关键客户 / cliente clave;
    # Spanish writes 72,4.
    reached = code("change.reached", score="72.4", tier=tier_term(DEFAULT.customer.tiers, "key"), minimum=70.0)
    assert render(reached) == "score 72.4 reached key (minimum 70)"
    assert render(reached, "zh") == "评分 72.4 达到关键客户（最低 70）"
    assert render(reached, "es") == "la puntuación 72,4 alcanzó cliente clave (mínimo 70)"
    # a language without templates reads English
    assert render(reached, "fr") == "score 72.4 reached key (minimum 70)"


def test_a_tier_without_a_label_of_the_language_shows_its_name() -> None:
    # test_explain: score 19.9917 (shown 19.99) fell below general's 20; the small rules label no tier.
    g = Grader(small_rules(THIRDS_DIMENSIONS, THIRDS_TIERS, NO_HYSTERESIS))
    state, _ = feed(g, [order(0, "o1", amount=1995.0, cost=None), order(0, "o2", amount=1000.0, cost=None)])
    state, outs = feed(g, [order(1, "o2", amount=1000.0, cost=None, status="cancelled")], state)
    (down,) = changes(outs)
    assert down.reasons[0] == render(down.reason_codes[0]) == \
        "score 19.99 fell below what general requires (minimum 20)"
    assert render(down.reason_codes[0], "zh") == "评分 19.99 低于general的要求（最低 20）"
    assert render(down.reason_codes[0], "es") == \
        "la puntuación 19,99 quedó por debajo de lo que exige general (mínimo 20)"


def test_an_override_s_end_reworded_in_chinese_and_spanish() -> None:
    # test_explain: the override by li.wei ends on day 40 (2025-02-10); the re-review says so, then
    # that the score reached key (minimum 70), key labelled 关键客户 / cliente clave by the default rules.
    g = Grader(DEFAULT)
    state, _ = feed(g, key_customer())
    state, _ = feed(g, [assessment(27, "c1", 40, override="potential")], state)
    (back,) = g.review(state, ts(at(40))).changes
    score = back.reason_codes[0]["params"]["then"]["params"]["then"]["params"]["score"]
    assert back.reasons[0] == (f"re-review: manual override by li.wei ended 2025-02-10: score {score} "
                               "reached key (minimum 70)")
    assert render(back.reason_codes[0], "zh") == \
        f"定期复审：li.wei 的人工调整已于 2025-02-10 结束：评分 {score} 达到关键客户（最低 70）"
    assert render(back.reason_codes[0], "es") == (
        f"revisión periódica: el ajuste manual de li.wei terminó el 2025-02-10: la puntuación "
        f"{score.replace('.', ',')} alcanzó cliente clave (mínimo 70)")
    assert render_all(back.reason_codes) == back.reasons  # every reason comes from its message


def test_the_hints_reworded_with_the_language_s_separators() -> None:
    # test_explain: held in key on day 10 (46.67 under 50); back to 50 takes 1 more order or 2,000
    # more revenue; in Spanish 2.000, the options joined by "o", in Chinese by "，或".
    g = Grader(THIRDS_10)
    state, _ = feed(g, [order(0, "o1", amount=100.0, cost=None), order(5, "o2", amount=5000.0, cost=None),
                        order(5, "o3", amount=3000.0, cost=None)])
    snap = g.snapshot(state, eod(10))
    assert reworded(snap, "en") is snap
    zh, es = reworded(snap, "zh").next_tier, reworded(snap, "es").next_tier
    assert zh is not None and es is not None
    assert zh.keep_hints == zh.hints == ["窗口期内再下 1 笔订单，或窗口期内销售额再增加 2,000"]
    assert es.keep_hints == es.hints == ["1 pedido más en la ventana o 2.000 más de ingresos en la ventana"]
    assert snap.next_tier is not None and snap.next_tier.hints == [
        "1 more order in the window or 2,000 more revenue in the window"]


def test_an_ungraded_reason_reworded() -> None:
    g = Grader(DEFAULT)
    state, outs = feed(g, [assessment(0, "c1", 40, override="potential")])
    snap = g.snapshot(state, ts(at(400)))  # the override has ended, no order yet
    assert snap.tier == "ungraded" and snap.ungraded_reason == "no order yet"
    assert reworded(snap, "zh").ungraded_reason == "尚无订单"
    assert reworded(snap, "es").ungraded_reason == "aún no hay pedidos"
    # a change carries its messages in its JSON, as Redis keeps it: worded again from there
    (first,) = changes(outs)
    doc = first.model_dump(mode="json")
    assert reword(doc, "en") == doc
    assert reword(doc, "zh")["reasons"] == render_all(first.reason_codes, "zh") == [
        "li.wei 人工调整：sales visit（有效至 2025-02-10）"]
    assert reword(doc, "es")["reasons"] == ["ajuste manual de li.wei: sales visit (hasta el 2025-02-10)"]


@pytest.mark.parametrize(("header", "expected"), [
    (None, "en"), ("", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("es-ES", "es"), ("ES", "es"),
    ("fr-FR, es;q=0.5, zh;q=0.7", "zh"), ("en;q=0.5, es;q=0.5", "en"), ("fr, de", "en"), ("zh;q=0, es", "es"),
    ("*", "en"), ("zh;q=abc, es;q=0.1", "es"),
])
def test_the_accept_language_picks_one_of_ours(header: str | None, expected: str) -> None:
    assert pick_language(header) == expected


def test_the_setting_is_the_fallback_of_accept_language() -> None:
    assert pick_language("fr", "zh") == "zh" and pick_language(None, "es") == "es"


def test_a_tier_label_per_language_is_validated_at_load() -> None:
    data = yaml.safe_load(DEFAULT.model_dump_json())
    data["customer"]["tiers"][0]["label"] = {"zh": "关键客户", "fr": "client clé"}
    with pytest.raises(RulesError, match="fr"):
        parse_rules(yaml.safe_dump(data, allow_unicode=True))
    data["customer"]["tiers"][0]["label"] = {"zh": "关键客户"}
    assert parse_rules(yaml.safe_dump(data, allow_unicode=True)).customer.tiers[0].label == {"zh": "关键客户"}
