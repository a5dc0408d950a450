"""Tests of engine.demand and the forecasting model on the small generated world."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from engine import demand, forecasting, purchasing

H = 28
FAST = dataclasses.replace(demand.SETTINGS, n_estimators=200, max_train_rows=60_000)


@pytest.fixture(scope="module")
def data(world):
    """SKU × warehouse series of the small world."""
    return demand.history(world.cursor())


@pytest.fixture(scope="module")
def backtest(world, data):
    """Model and baseline forecasts of the world's last 28 days beside the actuals."""
    train, future, test = demand.split(data, H)
    m = forecasting.fit(
        train,
        H,
        future_exog=future,
        holidays=demand.holidays(world.cursor()),
        settings=FAST,
        level=(50, 80, 95),
    )
    fc = forecasting.predict(m)
    base = forecasting.baseline_forecasts(train, H)
    both = pd.concat([fc.frame.assign(model="xgboost"), base], ignore_index=True)
    return fc, both.merge(test[["unique_id", "ds", "y", "censored"]], on=["unique_id", "ds"])


def test_series_cover_every_day_and_listing(world, data):
    """Each series has one row per day from the first campaign to as_of, and units add up."""
    f = data.frame
    days = f["ds"].nunique()
    assert f.groupby("unique_id").size().eq(days).all()
    units = (
        world.cursor()
        .execute(
            "SELECT sum(qty) FROM order_items JOIN orders USING (order_id) WHERE status <> 'cancelled'"
        )
        .fetchone()[0]
    )
    assert f["y"].sum() == pytest.approx(units)
    assert set(data.keys["unique_id"]) == set(f["unique_id"])
    assert (f.loc[f["listed"] == 0, "discount"] == 0).all()


def test_sold_out_days_are_censored(world, data):
    """A SKU-warehouse day is censored exactly when one of its campaigns sold out."""
    sold_out = (
        world.cursor()
        .execute(
            """SELECT count(*) FROM (SELECT DISTINCT k.sale_date, c.warehouse_id, k.sku_id
           FROM campaigns k JOIN communities c USING (community_id) WHERE k.sold_out)"""
        )
        .fetchone()[0]
    )
    assert int(data.frame["censored"].sum()) == sold_out > 0


def test_model_beats_seasonal_naive_on_world(backtest):
    """Over the world's last 28 days the model's WAPE is at least 20 % below seasonal naive's."""
    _, joined = backtest
    m = forecasting.metrics(joined, ["model"]).set_index("model")["wape"]
    assert m["xgboost"] <= 0.8 * m["seasonal_naive"], m.to_dict()
    assert m["xgboost"] < m["ets"]


def test_world_forecast_non_negative_with_listing_driver(backtest):
    """Forecasts are non-negative and the listing plan (campaigns, their discount) leads."""
    fc, _ = backtest
    assert (fc.frame.drop(columns=["unique_id", "ds"]) >= 0).all().all()
    assert {"listed", "discount"} & set(fc.importance["feature"].head(3))


def test_category_rollup_matches_leaves(backtest, data):
    """Category × warehouse totals equal the sums of their SKU forecasts."""
    fc, _ = backtest
    keys = data.keys[["unique_id", "category", "warehouse_id"]]
    up = forecasting.rollup(fc.frame, keys, ["category", "warehouse_id"])
    for level in ("category", "warehouse_id"):
        got = up.loc[up["level"] == level, "yhat"].sum()
        assert got == pytest.approx(fc.frame["yhat"].sum())


def test_purchase_plan_on_world(world, backtest, data):
    """Orders from the world forecast come in pack multiples, one order per supplier."""
    fc, _ = backtest
    cur = world.cursor()
    as_of = fc.frame["ds"].min() - pd.Timedelta(days=1)
    plan = purchasing.plan(
        fc.frame, data.keys, purchasing.stock(cur), purchasing.suppliers(cur), as_of, days=7
    )
    lines = plan.lines
    assert len(lines) > 0
    assert (lines["qty"] % lines["pack_size"] == 0).all()
    assert (lines["qty"] >= lines["need"]).all()
    assert (lines["qty"] - lines["need"] < lines["pack_size"]).all()
    assert plan.orders["supplier_id"].is_unique
    assert plan.orders["units"].sum() == lines["qty"].sum()


def test_unknown_level_rejected(world):
    """Only the whitelisted levels reach SQL."""
    with pytest.raises(ValueError, match="level must be"):
        demand.history(world.cursor(), level="sku; DROP TABLE skus")
