"""Backtests on the small world: the topic rule catches the planted trend before the baseline."""

import datetime as dt

import pytest

from engine.rules import backtest, library

TREND_RULE = dict(library.SEEDS)["低糖水果 话题升温"]


@pytest.fixture(scope="module")
def truth(world):
    """The planted trend: topic start, demand start and its SKUs."""
    t = world.cursor().execute("SELECT * FROM truth_trend").df()
    return t["topic_start"].iloc[0].date(), t["demand_start"].iloc[0].date(), set(t["sku_id"])


@pytest.fixture(scope="module")
def result(world, truth):
    """Weekly backtest from two weeks before the topic starts, trend rule and a poor rule."""
    topic_start, _, _ = truth
    rules = {"trend": TREND_RULE, "cheapest": "过去 7 天 排序 单价 升序 前 10"}
    return backtest.backtest(world.cursor(), rules, topic_start - dt.timedelta(days=14), 6)


def catch_share(result, rule, skus, n_communities):
    """{as_of: share of all communities whose picks include every trending SKU}."""
    p = result.picks[result.picks["rule"] == rule]
    out = dict.fromkeys(sorted(result.weekly["as_of"].unique()), 0.0)
    for d, g in p.groupby("as_of"):
        full = g.groupby("community_id")["sku_id"].agg(lambda s: skus <= set(s))
        out[d] = float(full.sum()) / n_communities
    return out


def first_catch(shares, at_least=0.3):
    """The first as-of date whose share reaches ``at_least``, or None."""
    return next((d for d, s in sorted(shares.items()) if s >= at_least), None)


def test_topic_rule_catches_trend_before_baseline(world, result, truth):
    """The 低糖水果 topic rule lists all trending SKUs within a week of demand rising; the
    bestseller baseline does so later or never, and the topic rule is quiet before the topic."""
    topic_start, demand_start, skus = truth
    n = world.cursor().execute("SELECT count(*) FROM communities").fetchone()[0]
    trend = catch_share(result, "trend", skus, n)
    base = catch_share(result, backtest.BASELINE, skus, n)
    caught = first_catch(trend)
    assert caught is not None and caught <= demand_start + dt.timedelta(days=7)
    base_caught = first_catch(base)
    assert base_caught is None or base_caught > caught
    assert all(s <= 0.2 for d, s in trend.items() if d < topic_start), trend


def test_baseline_beats_a_poor_rule_and_ratios_are_sane(result):
    """Bestsellers hit the realised top 10 far more often than the cheapest SKUs; ratios in [0, 1]."""
    s = result.summary.set_index("rule")
    assert s.loc[backtest.BASELINE, "hit_rate"] > 2 * s.loc["cheapest", "hit_rate"]
    assert s.loc[backtest.BASELINE, "gmv_share"] > s.loc["cheapest", "gmv_share"]
    for col in ("hit_rate", "gmv_share", "sell_through", "waste_rate"):
        assert s[col].dropna().between(0, 1).all(), col
    assert list(s.index) == ["trend", "cheapest", backtest.BASELINE]
    assert (result.weekly.groupby("rule").size() == 6).all()
