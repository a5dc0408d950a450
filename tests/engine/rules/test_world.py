"""Rules on the generated small world: every metric, filter, scope and audience against pandas."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine import db, rules
from tests.engine.rules import reference

DAYS = 14
KW = "低糖水果"
ALL_METRICS = [
    "views",
    "carts",
    "units",
    "gmv",
    "margin",
    "margin_rate",
    "conversion",
    "stock_days",
    "available_days",
    "price",
    "price_pct",
    "trend",
    "view_trend",
]


@pytest.fixture(scope="module")
def as_of(world):
    """A date 20 days before the world's today, so windows on both sides have data."""
    return dt.date.fromisoformat(db.get_meta(world.cursor(), "as_of")) - dt.timedelta(days=20)


@pytest.fixture(scope="module")
def ref(world, as_of):
    """The pandas reference grid for the 14-day window ending as_of."""
    return reference.grid(world.cursor(), as_of, DAYS)


def full(world, as_of, where=None, rank="销量 降序", scope="全部", extra=""):
    """Evaluate a rule that keeps every SKU (top 1000) and index it by (community, SKU)."""
    text = f"范围 {scope} 过去 {DAYS} 天 {extra} "
    text += f"筛选 {where} " if where else ""
    text += f"排序 {rank} 前 1000"
    return rules.evaluate(world.cursor(), text, as_of=as_of).set_index(["community_id", "sku_id"])


def test_every_metric_matches_pandas(world, as_of, ref):
    """Each metric column equals a direct pandas computation for every (community, SKU)."""
    names = {m: rules.model.METRICS[m] for m in ALL_METRICS}
    where = " 或 ".join(f"{zh} >= -1" for zh in names.values())
    out = full(world, as_of, where=where)
    expect = ref.set_index(["community_id", "sku_id"])
    assert len(out) == len(expect)
    expect = expect.loc[out.index]
    assert (expect["units"] > 0).sum() > 100, "the window should hold real sales"
    for m in ALL_METRICS:
        got, want = out[m].astype(float).to_numpy(), expect[m].astype(float).to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True, err_msg=m)


def test_topic_metrics_match_pandas(world, as_of):
    """mentions(k) and mention_trend(k) equal pandas sums of the community's topic rows."""
    out = full(
        world, as_of, rank=f'话题热度("{KW}") 降序', extra="", where=f'话题趋势("{KW}") >= 0'
    )
    per = out.groupby(level=0)[[f"mentions({KW})", f"mention_trend({KW})"]].first()
    want = reference.mentions(world.cursor(), as_of, DAYS, KW).reindex(per.index).fillna(0.0)
    np.testing.assert_allclose(per[f"mentions({KW})"], want["cur"])
    np.testing.assert_allclose(per[f"mention_trend({KW})"], (want["cur"] + 1) / (want["prev"] + 1))
    assert want["cur"].sum() > 0


FILTERS = [
    ('类目 = "水果"', lambda g: g["category"] == "水果"),
    ('类目 != "水果"', lambda g: g["category"] != "水果"),
    ('类目 属于 ("水果", "乳品")', lambda g: g["category"].isin(["水果", "乳品"])),
    ('储存 = "frozen"', lambda g: g["storage"] == "frozen"),
    ('标签 包含 "kids"', lambda g: g["tags"].map(lambda t: "kids" in list(t))),
    ('标签 包含 "低糖"', lambda g: g["tags"].map(lambda t: "low_sugar" in list(t))),
    ('名称 包含 "苹果"', lambda g: g["sku_name"].str.contains("苹果", regex=False)),
    ("库存天数 >= 3", lambda g: g["stock_days"] >= 3),
    ("可供天数 >= 1", lambda g: g["available_days"] >= 1),
    ("单价分位 >= 0.7", lambda g: g["price_pct"] >= 0.7),
    ("单价 < 10", lambda g: g["price"] < 10),
    ("浏览量 > 20 且 加购量 >= 2", lambda g: (g["views"] > 20) & (g["carts"] >= 2)),
    ("销量 >= 5 或 成交额 > 300", lambda g: (g["units"] >= 5) | (g["gmv"] > 300)),
    ("毛利 > 50", lambda g: g["margin"] > 50),
    ("毛利率 >= 0.3", lambda g: g["margin_rate"].fillna(-1) >= 0.3),
    ("转化率 > 0.1", lambda g: g["conversion"].fillna(-1) > 0.1),
    ("非 转化率 > 0.1", lambda g: ~(g["conversion"].fillna(-1) > 0.1)),
    ("销量趋势 >= 2", lambda g: g["trend"] >= 2),
    ("浏览趋势 < 0.5", lambda g: g["view_trend"] < 0.5),
    ("非 (浏览量 = 0 或 销量 = 0)", lambda g: ~((g["views"] == 0) | (g["units"] == 0))),
]


@pytest.mark.parametrize(("where", "mask"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_keeps_exactly_the_pandas_rows(world, as_of, ref, where, mask):
    """The rule keeps exactly the (community, SKU) pairs the pandas mask keeps."""
    out = full(world, as_of, where=where)
    want = set(map(tuple, ref.loc[mask(ref), ["community_id", "sku_id"]].to_numpy()))
    assert set(out.index) == want
    assert want, f"{where} should keep something on the small world"


def test_launched_filters(world, as_of, ref):
    """上新 近 N 天 / 本月 / >= date keep the SKUs launched in that span and not after as_of."""
    skus = ref.drop_duplicates("sku_id").set_index("sku_id")["launched"]
    cases = {
        "上新 近 60 天": as_of - dt.timedelta(days=59),
        "上新 本月": as_of.replace(day=1),
        "上新 >= 2026-09-01": dt.date(2026, 9, 1),
    }
    for where, since in cases.items():
        got = set(full(world, as_of, where=where).index.get_level_values(1))
        assert got == set(skus[skus >= since].index), where
    assert set(full(world, as_of, where="上新 近 60 天").index.get_level_values(1))


@pytest.mark.parametrize("rank", ["浏览量", "成交额", "库存天数", "单价分位", "转化率"])
def test_ranking_and_top_n(world, as_of, ref, rank):
    """Top 5 per community follows the pandas order (metric desc, NULL last, then sku_id)."""
    metric = {v: k for k, v in rules.model.METRICS.items()}[rank]
    out = rules.evaluate(world.cursor(), f"过去 {DAYS} 天 排序 {rank} 降序 前 5", as_of=as_of)
    want = (
        ref.assign(_k=ref[metric].fillna(-np.inf))
        .sort_values(["community_id", "_k", "sku_id"], ascending=[True, False, True])
        .groupby("community_id")
        .head(5)
    )
    assert out[["community_id", "sku_id"]].to_numpy().tolist() == (
        want[["community_id", "sku_id"]].to_numpy().tolist()
    )
    assert out.groupby("community_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()


def test_scopes_match_pandas(world, as_of, ref):
    """Scope by type, region name and community name selects the pandas communities."""
    cur = world.cursor()
    regions = cur.execute("SELECT region_id, name FROM regions").df()
    region_name = regions.iloc[0]["name"]
    region_ids = set(regions.loc[regions["name"] == region_name, "region_id"])
    checks = {
        '类型 "high_end"': set(ref.loc[ref["type"] == "high_end", "community_id"]),
        f'区域 "{region_name}"': set(ref.loc[ref["region_id"].isin(region_ids), "community_id"]),
        '小区 "云顶华府"': set(ref.loc[ref["community_name"] == "云顶华府", "community_id"]),
    }
    for scope, want in checks.items():
        got = set(rules.evaluate(cur, f"范围 {scope} 前 1", as_of=as_of)["community_id"])
        assert got == want and want, scope


def test_audience_kids_units_match_pandas(world, as_of):
    """人群 标签 "儿童": communities with such users; aud_units are their net units per SKU."""
    cur = world.cursor()
    users = cur.execute("SELECT user_id, community_id, signup_date, has_children FROM users").df()
    users = users[
        users["has_children"].fillna(False).astype(bool)
        & (pd.to_datetime(users["signup_date"]).dt.date <= as_of)
    ]
    lines = cur.execute(
        "SELECT o.user_id, o.community_id, o.order_date, oi.sku_id, oi.qty - oi.refund_qty AS net "
        "FROM orders o JOIN order_items oi USING (order_id) WHERE o.status = 'paid'"
    ).df()
    d = pd.to_datetime(lines["order_date"]).dt.date
    lines = lines[(d > as_of - dt.timedelta(days=DAYS)) & (d <= as_of)]
    lines = lines[lines["user_id"].isin(users["user_id"])]
    # Rules only see SKUs launched by as_of (the small world has sales before some launches).
    launched = cur.execute("SELECT sku_id FROM skus WHERE launched <= ?", [as_of]).df()
    lines = lines[lines["sku_id"].isin(launched["sku_id"])]
    want = lines.groupby(["community_id", "sku_id"])["net"].sum()
    want = want[want > 0]
    out = full(world, as_of, rank="人群销量 降序", extra='人群 标签 "儿童" 买过')
    assert set(out.index.get_level_values(0)) <= set(users["community_id"])
    assert out["aud_units"].to_dict() == want.astype(float).to_dict()


@pytest.mark.parametrize(
    "text",
    [
        '过去 14 天 人群 画像 "高价值" 筛选 话题趋势("低糖水果") >= 0 且 上新 近 400 天 '
        "排序 毛利 降序 前 5",
        '过去 7 天 人群 画像 "沉睡" 筛选 库存天数 >= 1 排序 浏览趋势 降序 前 3',
        '过去 10 天 人群 画像 "新用户" 排序 人群买家 降序 前 3',
    ],
)
def test_many_dates_in_one_query_equal_one_by_one(world, as_of, text):
    """evaluate_many over several dates gives exactly the per-date evaluate results."""
    from engine.rules import evaluation

    dates = [as_of - dt.timedelta(days=k) for k in (0, 9, 30)]
    many = evaluation.evaluate_many(world.cursor(), text, dates)
    for d in dates:
        one = rules.evaluate(world.cursor(), text, as_of=d)
        part = many[many["as_of"] == d].drop(columns=["as_of"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one, check_dtype=False)
    assert len(many) > 0


def test_shared_daily_sales_table_gives_the_same_picks(world, as_of):
    """Reading a backtest's daily-sales temp table gives the same picks as the order lines."""
    from engine.rules import compile as rule_compile
    from engine.rules import evaluation

    text = "过去 10 天 筛选 销量趋势 >= 1 且 毛利 > 0 排序 成交额 降序 前 5"
    dates = [as_of - dt.timedelta(days=k) for k in (0, 7, 14)]
    cur = world.cursor()
    daily = rule_compile.create_sales_daily(cur, dates[-1] - dt.timedelta(days=19), dates[0])
    try:
        shared = evaluation.evaluate_many(cur, text, dates, sales_daily=daily)
    finally:
        cur.execute(f"DROP TABLE {daily}")
    direct = evaluation.evaluate_many(world.cursor(), text, dates)
    pd.testing.assert_frame_equal(shared, direct)
    assert len(direct) > 0
    with pytest.raises(ValueError, match="sales_daily"):
        evaluation.evaluate_many(cur, text, dates, sales_daily="orders; DROP TABLE skus")
