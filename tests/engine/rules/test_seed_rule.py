"""The library's seed rule reads 库存充足 as availability, which suits a pre-sale business."""

import datetime as dt

import pytest

from engine import db
from engine.rules import backtest, library

SEED = dict(library.SEEDS)["云顶华府 浏览TOP10 库存充足 高客单价"]
STOCK = "可供天数 >= 1 且 "


@pytest.fixture(scope="module")
def summary(world):
    """A 4-week backtest ending on the world's last day: the seed rule, the same rule without
    its stock condition, and the same rule with on-hand stock days instead."""
    assert STOCK in SEED
    rules = {
        "seed": SEED,
        "no_stock": SEED.replace(STOCK, ""),
        "on_hand": SEED.replace(STOCK, "库存天数 >= 3 且 "),
    }
    end = dt.date.fromisoformat(db.get_meta(world.cursor(), "as_of"))
    res = backtest.backtest(world.cursor(), rules, end - dt.timedelta(days=28), 4)
    return res.summary.set_index("rule")


def test_seed_rule_keeps_most_of_the_gmv_of_the_rule_without_stock(summary):
    """Availability keeps what can be sold: ≥ 80 % of the GMV share without the condition,
    while on-hand stock days (fresh goods are bought for the orders) lose far more."""
    share = summary["gmv_share"]
    assert share["no_stock"] > 0.1, share
    assert share["seed"] >= 0.8 * share["no_stock"], share
    assert share["on_hand"] < share["seed"], share
    assert summary.loc["seed", "hit_rate"] > 0, summary


def test_availability_drops_only_what_cannot_arrive(world):
    """A SKU falls below one day of availability only when its supplier needs more than a day
    or never delivered it to that warehouse in the window; next-day fresh goods pass."""
    from engine import rules

    end = dt.date.fromisoformat(db.get_meta(world.cursor(), "as_of"))
    text = '范围 小区 "云顶华府" 过去 30 天 排序 可供天数 升序 前 1000'
    out = rules.evaluate(world.cursor(), text, as_of=end)
    facts = (
        world.cursor()
        .execute(
            """SELECT s.sku_id, p.lead_time_days, s.shelf_life_days,
                  coalesce(max(i.received), 0) AS max_received
           FROM skus s JOIN suppliers p USING (supplier_id)
           LEFT JOIN inventory i ON i.sku_id = s.sku_id AND i.stock_date BETWEEN ? AND ?
                AND i.warehouse_id = (SELECT warehouse_id FROM communities WHERE name = '云顶华府')
           GROUP BY ALL""",
            [end - dt.timedelta(days=29), end],
        )
        .df()
    )
    x = out.merge(facts, on="sku_id")
    low = x[x["available_days"] < 1]
    assert len(low) > 0
    assert ((low["lead_time_days"] > 1) | (low["max_received"] == 0)).all(), low
    fresh = x[(x["shelf_life_days"] <= 3) & (x["lead_time_days"] <= 1) & (x["max_received"] > 0)]
    assert len(fresh) > 5 and (fresh["available_days"] >= 1).all(), fresh


def test_availability_reads_the_same_in_english_and_chinese(world):
    """`available_days` and 可供天数 are one metric: both texts pick the same SKUs."""
    from engine import rules

    end = dt.date.fromisoformat(db.get_meta(world.cursor(), "as_of"))
    zh = rules.evaluate(world.cursor(), SEED, as_of=end)
    en_text = rules.to_text(rules.parse(SEED), lang="en")
    assert "available_days >= 1" in en_text
    en = rules.evaluate(world.cursor(), en_text, as_of=end)
    assert len(zh) > 0
    assert zh[["community_id", "sku_id"]].equals(en[["community_id", "sku_id"]])
