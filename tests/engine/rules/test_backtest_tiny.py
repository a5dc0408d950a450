"""Backtest mechanics on the tiny world: hits, GMV captured, stock figures, the baseline."""

import pytest

from engine.rules import backtest
from tests.engine.rules import tiny


@pytest.fixture(scope="module")
def con():
    """The tiny world (read only here)."""
    c = tiny.build()
    yield c
    c.close()


def test_scores_against_the_following_week(con):
    """As of D-7 the views rule picks cherries+apples in 云顶华府; both sold after, so both hit."""
    result = backtest.backtest(con, {"views": "过去 7 天 排序 浏览量 降序"}, tiny.d(7), 1, top_n=2)
    picks = result.picks[(result.picks["rule"] == "views") & (result.picks["community_id"] == 1)]
    assert picks["sku_id"].tolist() == [1, 2]
    assert picks["hit"].tolist() == [True, True]
    week = result.weekly.set_index("rule").loc["views"]
    # After D-7: 云顶华府 cherries 2*75 + 80, apples 4*9, milk 15; 幸福里 purée 3*12 + 2*5;
    # the third community apples 10, a"b 24.
    assert week["gmv_captured"] == pytest.approx(230 + 36 + 10)
    assert week["gmv_total"] == pytest.approx(230 + 36 + 15 + 46 + 10 + 24)
    assert week["picks"] == 6 and week["hits"] == 3


def test_baseline_always_present_and_rule_limits(con):
    """The bestseller baseline is added to every backtest; more than 4 rules is refused."""
    result = backtest.backtest(con, ["前 3"], tiny.d(7), 2, top_n=3)
    assert list(result.summary["rule"]) == ["前 3", backtest.BASELINE]
    assert len(result.weekly) == 4
    with pytest.raises(ValueError, match="at most 4"):
        backtest.backtest(con, ["前 1"] * 5, tiny.d(7), 1)
    with pytest.raises(ValueError, match="at least 1"):
        backtest.backtest(con, ["前 1"], tiny.d(7), 0)


def test_sell_through_uses_stock_at_the_picks_warehouses(con):
    """Sell-through divides units sold by stock on hand at D plus receipts, per picked pair."""
    result = backtest.backtest(con, {"r": '范围 小区 1 筛选 名称 包含 "车厘子"'}, tiny.d(6), 1)
    week = result.weekly.set_index("rule").loc["r"]
    assert week["stock"] == 30 and week["sold"] == 7
    assert week["sell_through"] == pytest.approx(7 / 30)


def test_backtest_limited_to_communities(con):
    """With communities given, only their picks are scored (a regional manager's view)."""
    result = backtest.backtest(con, ["前 2"], tiny.d(7), 1, top_n=2, communities=[1])
    assert set(result.picks["community_id"]) == {1}
    assert (result.weekly["communities"] == 1).all()
