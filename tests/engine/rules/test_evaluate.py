"""Evaluating rules on the hand-built tiny world: values, scope, audience and hostile text."""

import pytest

from engine import rules
from engine.rules import compile as rule_compile
from engine.rules import evaluation
from tests.engine.rules import tiny


@pytest.fixture(scope="module")
def con():
    """The tiny world, shared by this module's read-only tests."""
    c = tiny.build()
    yield c
    c.close()


def picks(frame):
    """{community_id: [sku_id, ...]} in rank order."""
    return {k: list(g["sku_id"]) for k, g in frame.groupby("community_id", sort=True)}


def test_seed_rule_high_ticket_with_stock(con):
    """云顶华府, views top, stock cover >= 3 days and price percentile >= 0.5: cherries then apples."""
    out = rules.evaluate(
        con,
        '范围 小区 "云顶华府" 过去 7 天 筛选 库存天数 >= 3 且 单价分位 >= 0.5 排序 浏览量 降序 前 10',
    )
    assert list(out["sku_id"]) == [1, 2]
    assert list(out["rank"]) == [1, 2]
    assert out["stock_days"].tolist() == [7.0, float("inf")]
    assert out["views"].tolist() == [80, 60]
    assert list(out.columns[:6]) == evaluation.BASE_COLUMNS


def test_sales_metrics_net_of_refunds_and_cancellations(con):
    """units, GMV and margin count paid lines net of refunds; the cancelled order is ignored."""
    out = rules.evaluate(
        con, "范围 小区 1 过去 7 天 筛选 销量 > 0 排序 成交额 降序 前 5", as_of=tiny.AS_OF
    )
    got = out.set_index("sku_id")
    assert got.loc[1, "gmv"] == 2 * 75 + 80  # order 3 is outside the 7-day window
    assert got.loc[2, "gmv"] == 4 * 9.0  # 5 bought, 1 refunded
    rows = rules.evaluate(
        con, "范围 小区 1 过去 7 天 筛选 销量 > 0 排序 毛利 降序", as_of=tiny.AS_OF
    )
    assert rows.set_index("sku_id")["margin"].to_dict() == {1: 2 * 25 + 30, 2: 4 * 3.0, 3: 5.0}
    units = rules.evaluate(con, "范围 小区 2 过去 7 天 排序 销量 降序 前 9")
    assert units.set_index("sku_id")["units"].to_dict()[2] == 0  # cancelled order


def test_trend_and_conversion(con):
    """trend compares with the previous window (+1 smoothing); conversion is units per view."""
    out = rules.evaluate(con, "范围 小区 1 过去 7 天 筛选 浏览量 > 0 排序 销量趋势 降序 前 10")
    got = out.set_index("sku_id")["trend"].to_dict()
    assert got[1] == pytest.approx((3 + 1) / (1 + 1))
    assert got[2] == pytest.approx(5.0)
    conv = rules.evaluate(con, "范围 小区 1 过去 7 天 筛选 浏览量 > 0 排序 转化率 降序 前 10")
    assert conv.set_index("sku_id")["conversion"].to_dict()[2] == pytest.approx(4 / 60)


def test_topic_metrics_are_per_community(con):
    """mentions and mention_trend count one keyword in each community's own topics."""
    out = rules.evaluate(
        con, '过去 7 天 筛选 话题热度("低糖水果") >= 1 排序 话题趋势("低糖水果") 降序 前 1'
    )
    assert picks(out).keys() == {1, 2}
    got = out.set_index("community_id")
    assert got.loc[1, "mentions(低糖水果)"] == 20
    assert got.loc[1, "mention_trend(低糖水果)"] == pytest.approx(21 / 5)
    assert got.loc[2, "mention_trend(低糖水果)"] == pytest.approx(2.0)


def test_scope_kinds(con):
    """Scope by type, region name, region id, community id, and all."""
    assert set(rules.evaluate(con, '范围 类型 "老年" 前 1')["community_id"]) == {3}
    assert set(rules.evaluate(con, '范围 区域 "岳麓区" 前 1')["community_id"]) == {1, 2}
    assert set(rules.evaluate(con, "范围 区域 2 前 1")["community_id"]) == {3}
    assert set(rules.evaluate(con, "范围 小区 2 前 1")["community_id"]) == {2}
    assert set(rules.evaluate(con, "范围 全部 前 1")["community_id"]) == {1, 2, 3}


def test_unknown_scope_name_is_a_clear_error(con):
    """A community name that does not exist raises ValueError naming it."""
    with pytest.raises(ValueError, match="no community '不存在'"):
        rules.evaluate(con, '范围 小区 "不存在"')


def test_audience_kids_new_puree(con):
    """The seed's kids example: only communities with kids-tagged users, this month's new purée."""
    out = rules.evaluate(con, '过去 7 天 人群 标签 "儿童" 筛选 上新 本月 且 名称 包含 "果泥"')
    assert picks(out) == {1: [4], 2: [4]}
    bought = rules.evaluate(con, '过去 7 天 人群 标签 "儿童" 买过 排序 人群销量 降序')
    assert picks(bought) == {1: [1, 3], 2: [4, 6]}
    assert bought.set_index(["community_id", "sku_id"]).loc[(1, 1), "aud_units"] == 2


def test_personas(con):
    """high_value keeps the top buyer per community; new keeps recent sign-ups."""
    hv = rules.evaluate(con, '过去 7 天 人群 画像 "高价值" 买过 排序 人群买家 降序')
    assert picks(hv) == {1: [1, 3], 2: [4, 6], 3: [2, 7]}
    new = rules.evaluate(con, '过去 7 天 人群 画像 "新用户" 排序 人群买家 降序 前 2')
    assert set(new["community_id"]) == {2}


def test_future_skus_never_picked(con):
    """A SKU launched after as_of is invisible, so backtests cannot see the future."""
    out = rules.evaluate(con, "排序 单价 降序 前 100")
    assert 9 not in set(out["sku_id"])
    assert 9 in set(rules.evaluate(con, "排序 单价 降序 前 100", as_of=tiny.d(-6))["sku_id"])


@pytest.mark.parametrize("hostile", tiny.HOSTILE)
def test_hostile_names_match_as_plain_text(con, hostile):
    """SKU names with quotes, comments, UNION, DROP, DELETE are matched literally, never run."""
    text = f"筛选 名称 包含 {rules.render.quote(hostile)} 排序 单价 降序 前 5"
    out = rules.evaluate(con, text, as_of=tiny.d(-6))
    assert set(out["sku_name"]) == {hostile}
    compiled = rule_compile.compile_rule(rules.parse(text), tiny.AS_OF)
    assert hostile not in compiled.sql
    assert hostile in compiled.params.values()
    assert con.execute("SELECT count(*) FROM skus").fetchone()[0] == 9
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 6


def test_hostile_values_everywhere_are_data(con):
    """Injection attempts in scope, category, tag, storage and topic keyword are inert values."""
    assert rules.evaluate(con, '范围 小区 "\'); DROP TABLE skus; --" 前 3')[
        "community_id"
    ].unique().tolist() == [3]
    assert rules.evaluate(con, "筛选 类目 = \"水果' OR '1'='1\"").empty
    assert rules.evaluate(con, '筛选 储存 属于 ("x\\") OR (1=1", "frozen") 前 9')[
        "sku_id"
    ].unique().tolist() == [5]
    tagged = rules.evaluate(con, '筛选 标签 包含 "x\'] OR TRUE --" 前 9')
    assert tagged["sku_id"].unique().tolist() == [6]
    kw = tiny.HOSTILE[2]
    topic = rules.evaluate(con, f"过去 7 天 筛选 话题热度({rules.render.quote(kw)}) > 0 前 1")
    assert topic["community_id"].tolist() == [3]
    assert topic[f"mentions({kw})"].tolist() == [9]
    with pytest.raises(ValueError, match="no region"):
        rules.evaluate(con, "范围 区域 \"1' OR '1'='1\"")
    assert con.execute("SELECT count(*) FROM communities").fetchone()[0] == 3


def test_every_value_is_a_bound_parameter():
    """Numbers, dates and keywords of a compiled rule appear only in params, never in SQL."""
    rule = rules.parse(
        '范围 类型 "高端" 过去 9 天 筛选 浏览量 >= 12345 且 上新 >= 2026-01-17 且 '
        '话题热度("关键词Q") > 77 排序 销量 降序 前 42'
    )
    compiled = rule_compile.compile_rule(rule, tiny.AS_OF)
    for literal in ("12345", "2026-01-17", "关键词Q", "77", "42", "high_end"):
        assert literal not in compiled.sql
    assert 12345.0 in compiled.params.values() and 42 in compiled.params.values()


def test_evaluate_rejects_bad_input(con):
    """Bad rule text raises RuleError; a non-rule raises TypeError."""
    with pytest.raises(rules.RuleError):
        rules.evaluate(con, "筛选 浏览量 >")
    with pytest.raises(TypeError):
        rules.evaluate(con, 42)
