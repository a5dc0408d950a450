"""Parser and printer of the selection-rule language: round trips and error positions."""

import datetime as dt

import pytest

from engine import rules
from engine.rules import model

CANONICAL_ZH = [
    '范围 小区 "云顶华府" 过去 30 天 筛选 库存天数 >= 3 且 单价分位 >= 0.7 排序 浏览量 降序 前 10',
    "范围 全部 过去 7 天 排序 销量 降序 前 20",
    '范围 类型 "高端" 过去 14 天 筛选 类目 = "水果" 排序 成交额 升序 前 5',
    "范围 区域 3 过去 30 天 筛选 转化率 > 0.05 或 加购量 >= 10 排序 毛利 降序 前 10",
    '范围 区域 "岳麓区" 过去 30 天 筛选 非 (储存 = "frozen" 或 毛利率 < 0.2) 排序 单价 降序 前 3',
    '范围 全部 过去 30 天 人群 标签 "儿童" 筛选 上新 本月 且 名称 包含 "果泥" 排序 销量 降序 前 10',
    '范围 全部 过去 30 天 人群 画像 "高价值" 买过 排序 人群销量 降序 前 10',
    '范围 全部 过去 7 天 筛选 话题趋势("低糖水果") >= 2 且 标签 包含 "low_sugar" 排序 话题热度("低糖水果") 降序 前 10',
    '范围 小区 12 过去 30 天 筛选 类目 属于 ("水果", "乳品") 且 上新 >= 2026-10-01 排序 销量趋势 降序 前 10',
    "范围 全部 过去 30 天 筛选 浏览量 > 3 且 加购量 > 1 或 销量 > 5 排序 浏览趋势 降序 前 10",
    "范围 全部 过去 30 天 筛选 (浏览量 > 3 或 加购量 > 1) 且 (销量 > 5 或 成交额 > 100) 排序 销量 降序 前 10",
    "范围 全部 过去 30 天 筛选 浏览量 > 3 或 (加购量 > 1 或 销量 > 5) 排序 销量 降序 前 10",
    '范围 全部 过去 30 天 筛选 上新 近 14 天 且 非 非 标签 包含 "organic" 排序 销量 降序 前 10',
    "范围 全部 过去 30 天 筛选 销量趋势 >= -0.5 且 单价分位 != 1 排序 销量 降序 前 10",
    '范围 全部 过去 30 天 筛选 类目 != "时蔬" 排序 库存天数 升序 前 1000',
]

CANONICAL_EN = [
    'scope community "云顶华府" window 30 days where stock_days >= 3 and price_pct >= 0.7 '
    "rank by views desc top 10",
    'scope type "young_family" window 7 days audience tag "kids" bought where launched within 30 '
    'days and tag has "kids" rank by aud_buyers desc top 5',
    'scope all window 30 days where launched this month and name contains "a\\"b\\\\c" '
    "rank by gmv asc top 10",
]


@pytest.mark.parametrize("text", CANONICAL_ZH)
def test_round_trip_zh(text):
    """Canonical Chinese text parses and prints back identically, and via English too."""
    rule = rules.parse(text)
    assert rules.to_text(rule) == text
    assert rules.parse(rules.to_text(rule, "en")) == rule


@pytest.mark.parametrize("text", CANONICAL_EN)
def test_round_trip_en(text):
    """Canonical English text parses and prints back identically, and via Chinese too."""
    rule = rules.parse(text)
    assert rules.to_text(rule, "en") == text
    assert rules.parse(rules.to_text(rule, "zh")) == rule


def test_seed_example_without_spaces():
    """The seed's style (no spaces, Chinese quotes, TOP10, full-width >=) reads correctly."""
    rule = rules.parse("范围小区‘云顶华府’过去30天筛选库存天数＞＝3且单价分位>=70%排序浏览量TOP10")
    assert rule.scope == model.CommunityFilter("community", "云顶华府")
    assert rule.window_days == 30
    assert rule.where == model.And(
        (
            model.Compare(model.Metric("stock_days"), ">=", 3.0),
            model.Compare(model.Metric("price_pct"), ">=", 0.7),
        )
    )
    assert rule.rank == model.Rank(model.Metric("views"), True)
    assert rule.top == 10


def test_defaults_and_precedence():
    """Missing clauses take defaults; not binds tighter than and, and tighter than or."""
    rule = rules.parse("where not views > 1 and carts > 2 or units > 3")
    assert rule.scope.kind == "all" and rule.window_days == 30 and rule.top == 10
    views, carts, units = (
        model.Compare(model.Metric(m), ">", float(v))
        for m, v in (("views", 1), ("carts", 2), ("units", 3))
    )
    assert rule.where == model.Or((model.And((model.Not(views), carts)), units))


def test_clause_order_free_and_synonyms():
    """Clauses may come in any order; aliases (last, 或者, GMV, ≥) map to one rule."""
    a = rules.parse("top 5 last 14 days where GMV ≥ 10 或者 views > 1 scope all")
    b = rules.parse("范围 全部 过去 14 天 筛选 成交额 >= 10 或 浏览量 > 1 前 5")
    assert a == b


def test_structured_rule_from_ui_round_trips():
    """A rule built as dataclasses (as the UI does) prints to text that parses back to it."""
    rule = model.Rule(
        scope=model.CommunityFilter("type", "elderly"),
        window_days=21,
        audience=model.Audience("persona", "dormant"),
        where=model.Or(
            (
                model.Not(model.AttrIn("category", ("水果", "乳品"))),
                model.And((model.Launched("since", since=dt.date(2026, 1, 5)), model.TagHas("软"))),
            )
        ),
        rank=model.Rank(model.Metric("mention_trend", "少油"), descending=False),
        top=7,
    )
    for lang in ("zh", "en"):
        assert rules.parse(rules.to_text(rule, lang)) == rule


def test_validate_rejects_bad_structured_rule():
    """to_text refuses a hand-built rule with an unknown metric or a bad number."""
    with pytest.raises(ValueError, match="unknown metric"):
        rules.to_text(model.Rule(rank=model.Rank(model.Metric("likes"))))
    with pytest.raises(ValueError, match="top must be"):
        rules.to_text(model.Rule(top=0))
    with pytest.raises(ValueError, match="needs an audience"):
        rules.to_text(model.Rule(rank=model.Rank(model.Metric("aud_units"))))


# (text, position, words the message must contain)
MALFORMED = [
    ("", 0, "expected a clause"),
    ("范围", 2, "小区/community"),
    ("范围 小区", 5, "community name in quotes"),
    ('范围 小区 "云顶', 6, "closing"),
    ("过去 天", 3, "number of days"),
    ("过去 30", 5, "天/days"),
    ("过去 0 天", 3, "1 to 730"),
    ("过去 3.5 天", 3, "whole number"),
    ("过去 1000 天", 3, "1 to 730"),
    ("筛选", 2, "expected a condition"),
    ("筛选 浏览量", 6, "comparison"),
    ("筛选 浏览量 >=", 9, "a number after >="),
    ('筛选 浏览量 >= "abc"', 10, "a number"),
    ("筛选 (浏览量 > 3", 11, "')' to close"),
    ("筛选 浏览量 > 3)", 10, "且/and, 或/or"),
    ("筛选 浏览量 > 3 且", 12, "expected a condition"),
    ("where foo > 3", 6, "unknown metric or attribute 'foo'"),
    ("where viewz > 3", 6, "did you mean views"),
    ("筛选 浏览 > 3", 3, "did you mean 浏览量"),
    ("排序 降序", 3, "metric to rank by"),
    ("前 0", 2, "top must be 1 to 1000"),
    ("前 2000", 2, "top must be 1 to 1000"),
    ("top x", 4, "how many SKUs"),
    ("前 10 前 5", 5, "appears twice"),
    ("rank views", 5, "'by' after 'rank'"),
    ('筛选 类目 > "水果"', 6, "=, != or 属于/in"),
    ("筛选 类目 = 3", 8, "category value in quotes"),
    ('筛选 类目 属于 "水果"', 9, "'(' and a list"),
    ("筛选 类目 属于 ()", 10, "category value in quotes"),
    ('筛选 类目 属于 ("水果" "乳品")', 15, "',' or ')'"),
    ('筛选 标签 "x"', 6, "包含/has"),
    ("筛选 话题热度 > 3", 8, "needs a topic keyword"),
    ("排序 话题趋势 降序", 8, "needs a topic keyword"),
    ('筛选 浏览量("x") > 3', 6, "takes no keyword"),
    ('人群 标签 "火星人"', 6, "unknown user tag"),
    ('人群 画像 "x"', 6, "unknown persona"),
    ("人群 年龄", 3, "标签/tag or 画像/persona"),
    ("筛选 人群销量 > 1", 3, "add 人群/audience"),
    ('范围 类型 "豪宅"', 6, "unknown community type"),
    ("scope everything", 6, "小区/community"),
    ('范围 小区 ""', 6, "must not be empty"),
    ("筛选 上新 >= 2026-13-01", 9, "not a valid date"),
    ("筛选 上新 >= 30", 9, "a date like"),
    ("筛选 上新 近 天", 8, "number of days"),
    ("筛选 上新 >", 6, "本月/this month"),
    ("筛选 上新 本", 6, "本月/this month"),
    ("筛选 浏览量 >= 3 @", 12, "unexpected character '@'"),
    ("筛选 非", 4, "expected a condition"),
    ("筛选 浏览量 >= 3 浏览量 >= 4", 12, "且/and, 或/or"),
    ("筛选 浏览量 => 3", 8, "a number after ="),
    ("筛选 (浏览量 > 3 或 )", 14, "expected a condition"),
    ("范围 全部 过去 30 天 SELECT", 14, "expected a clause"),
    ("范围 全部; DROP TABLE skus; --", 5, "unexpected character ';'"),
]


@pytest.mark.parametrize(("text", "position", "words"), MALFORMED)
def test_malformed_rule_reports_position_and_expectation(text, position, words):
    """A malformed rule raises RuleError at the right offset with a message saying what fits."""
    with pytest.raises(rules.RuleError) as info:
        rules.parse(text)
    err = info.value
    assert err.position == position, err
    assert words in err.message
    assert f"position {position}" in str(err)
    assert isinstance(err, ValueError)


def test_pointer_marks_the_error():
    """RuleError.pointer puts a caret under the offending token (CJK counts double)."""
    text = "筛选 浏览量 >= x"
    with pytest.raises(rules.RuleError) as info:
        rules.parse(text)
    assert info.value.pointer(text).splitlines()[1] == " " * 15 + "^"


def test_parse_rejects_non_text():
    """parse() wants a str, not None or bytes."""
    with pytest.raises(TypeError):
        rules.parse(None)
