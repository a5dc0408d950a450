"""Tests of engine.forecasting.demand and the forecasting model on the small generated world."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from data import generate
from data import world as world_constants
from engine import forecasting, purchasing
from engine.forecasting import demand

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
    """Over the world's last 28 days the model's WAPE is at least 20 % below seasonal naive's,
    and below ETS's and the profile baseline's."""
    _, joined = backtest
    m = forecasting.metrics(joined, ["model"]).set_index("model")["wape"]
    assert m["xgboost"] <= 0.8 * m["seasonal_naive"], m.to_dict()
    assert m["xgboost"] < m["ets"]
    assert m["xgboost"] < m["profile"], m.to_dict()


def test_world_totals_unbiased(backtest):
    """Over the world's last 28 days the model's total is within 5 % of the actual total.

    The calibration window's actual / forecast ratio scales the forecast (Settings.debias);
    without it the total ran 12 % low here (measured), the baselines 21-33 % low.
    """
    _, joined = backtest
    m = forecasting.metrics(joined, ["model"]).set_index("model")["bias"]
    assert abs(m["xgboost"]) <= 0.05, m.to_dict()


def test_world_interval_coverage(backtest):
    """Over the world's last 28 days the 80 % interval covers 75-85 % of the actuals."""
    _, joined = backtest
    m = forecasting.metrics(joined, ["model"]).set_index("model")
    assert 0.75 <= m.loc["xgboost", "coverage_80"] <= 0.85, m["coverage_80"].to_dict()
    assert m.loc["xgboost", "coverage_95"] >= 0.90


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


# Planted effects on small worlds whose last 28 days hold them (seed 7 as the `world`
# fixture). Heat: ending 2026-09-14, training (Jun 18 - Aug 17) is the summer peak (tmax
# 31-39 °C) and the last 28 days (Aug 18 - Sep 14) hold 15 days above 33 °C inside that range
# and no festival week. Festival: ending 2026-10-18, training ends Sep 20 with the first three
# days of the 中秋 week (Sep 18-24; orders x1.08, 烘焙糕点 x2.5, 水果 x1.3) and the last 28 days
# hold the other four. The planted truth is the same world regenerated with the effect
# switched off (its twin): the same seed, population and weather, only that effect differs.
HEAT_END, FEST_END = date(2026, 9, 14), date(2026, 10, 18)
HEAT_CATS = ["水果", "酒水饮料", "冻品"]


def _twins(end: date, switch_off) -> tuple[demand.DemandData, demand.DemandData]:
    """Series of a small world and of its twin with one planted effect switched off."""
    con = generate.generate(":memory:", scale="small", seed=7, end=end)
    heat, fest = dict(world_constants.HEAT_LIFT), dict(world_constants.FESTIVALS)
    try:
        switch_off()
        con0 = generate.generate(":memory:", scale="small", seed=7, end=end)
    finally:
        world_constants.HEAT_LIFT.clear()
        world_constants.HEAT_LIFT.update(heat)
        world_constants.FESTIVALS.clear()
        world_constants.FESTIVALS.update(fest)
    out = demand.history(con.cursor()), demand.history(con0.cursor())
    con.close()
    con0.close()
    return out


def _sum(frame: pd.DataFrame, col: str, cats: list[str], days, skip: set[str]) -> float:
    """Total of ``col`` over rows of the given categories and days, without ``skip`` ids."""
    sel = frame["ds"].isin(days) & frame["category"].isin(cats) & ~frame["unique_id"].isin(skip)
    return float(frame.loc[sel, col].sum())


def _lifts(test, twin, fc, cats, days, skip) -> tuple[float, float]:
    """Sales of ``cats`` relative to the other categories on ``days``, over the same ratio in
    the twin world: planted (the world's actuals) and carried (the forecast)."""
    rest = sorted(set(test["category"]) - set(cats))
    cat = test.drop_duplicates("unique_id").set_index("unique_id")["category"]
    fc = fc.assign(category=fc["unique_id"].map(cat))

    def rel(frame: pd.DataFrame, col: str) -> float:
        return _sum(frame, col, cats, days, skip) / _sum(frame, col, rest, days, skip)

    return rel(test, "y") / rel(twin, "y"), rel(fc, "yhat") / rel(twin, "y")


@pytest.fixture(scope="module")
def heat_case():
    """Forecast of the heat world's last 28 days, its actuals and the heat-free twin's."""
    data, twin = _twins(HEAT_END, world_constants.HEAT_LIFT.clear)
    train, future, test = demand.split(data, H)
    fc = forecasting.fit_predict(train, H, future_exog=future, settings=FAST)
    # The trending SKUs (水果) ramp up in every world's last weeks: another planted effect.
    skip = set(data.keys.loc[data.keys["name"].isin(world_constants.TREND_SKUS), "unique_id"])
    return test, twin.frame, fc, skip


def test_planted_heat_lift_shows_in_forecast(heat_case):
    """On the days above 33 °C of the last 28, the forecast lifts 水果/酒水饮料/冻品 against the
    other categories as much as the planted heat did (±0.10 on a lift of about 1.33).

    Without the category-response offset (tmax only a tree feature) the forecast carried
    1.16 here: the trees did not learn the heat from 62 days of SKU × warehouse series.
    """
    test, twin, fc, skip = heat_case
    hot = test.loc[test["tmax"] > 33, "ds"].unique()
    assert len(hot) >= 10
    planted, carried = _lifts(test, twin, fc, HEAT_CATS, hot, skip)
    assert planted >= 1.15, planted  # the window really holds a heat effect
    assert abs(carried - planted) <= 0.10, (carried, planted)


@pytest.fixture(scope="module")
def festival_case():
    """Forecast of the festival world's last 28 days, its actuals, the festival-free twin's
    actuals and the category response estimated on the training days."""
    data, twin = _twins(FEST_END, lambda: world_constants.FESTIVALS.pop("中秋节"))
    train, future, test = demand.split(data, H)
    resp = demand.category_response(train)
    hol = demand.holidays(generate.generate(":memory:", scale="small", seed=7, end=FEST_END))
    fc = forecasting.fit_predict(train, H, future_exog=future, holidays=hol, settings=FAST)
    return resp, test, twin.frame, fc


def test_planted_festival_lift_shows_in_forecast(festival_case):
    """On the 中秋 week's four days in the last 28, the forecast lifts 烘焙糕点 against the other
    categories by at least 40 % of the planted excess and not more than it (+0.10).

    Only partly met, hence the weak bound: three festival days in the history are all there
    is to learn from. At category-day level 烘焙糕点's daily noise (sd 0.63 in log units)
    swamps a three-day estimate of the planted lift (x2.5 on its basket weight, x1.80 in
    units against the other categories), so the category response shrinks it to nothing; the
    trees carry part of it through the listing plan (mooncakes listed) and the calendar
    features: 1.35 of 1.80 (44 % of the excess) when this test was written.
    """
    _, test, twin, fc = festival_case
    days = pd.date_range("2026-09-21", "2026-09-24")
    planted, carried = _lifts(test, twin, fc, ["烘焙糕点"], days, set())
    assert planted >= 1.5, planted
    assert 1 + 0.4 * (planted - 1) <= carried <= planted + 0.10, (carried, planted)


def test_category_response_recovers_planted_slopes():
    """On a hand-made panel, the heat slope of a hot category and a festival week's lift are
    recovered on category-day totals, whatever the common growth; noise gives nothing."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2026-06-01", "2026-09-20")
    tmax = 31 + 3 * rng.standard_normal(len(days))
    growth = np.exp(0.01 * np.arange(len(days)))
    hol = pd.DataFrame(
        {"date": pd.date_range("2026-09-25", periods=3), "kind": "holiday", "holiday": "中秋节"}
    )
    eve = (days >= "2026-09-18") & (days <= "2026-09-24")
    parts = []
    for c, heat, fest in (("hot", 0.05, 0.0), ("cake", 0.0, np.log(2.0)), ("calm", 0.0, 0.0)):
        lift = np.exp(heat * np.clip(tmax - 28, 0, None) + fest * eve)
        for k in range(6):
            y = rng.poisson(40 * growth * lift)
            parts.append(
                pd.DataFrame(
                    {"unique_id": f"{c}{k}", "ds": days, "y": y, "category": c, "tmax": tmax,
                     "listed": 1.0}
                )
            )  # fmt: skip
    resp = demand.category_response(pd.concat(parts, ignore_index=True), hol)
    # Coefficients are relative to the day's volume-weighted mean over categories: compare pairs.
    assert resp.heat["hot"] - resp.heat["calm"] == pytest.approx(0.05, abs=0.01)
    assert resp.festival["中秋节"]["cake"] - resp.festival["中秋节"]["calm"] == pytest.approx(
        np.log(2.0), abs=0.15
    )
    assert abs(resp.festival["中秋节"]["hot"] - resp.festival["中秋节"]["calm"]) < 0.1
    assert abs(resp.heat["cake"] - resp.heat["calm"]) < 0.01


def test_choose_objective_backtests_both_losses_before_the_holdout(world, data):
    """The page's loss is the one with the smaller worse ratio to ETS on the earlier window."""
    frame = data.frame.drop(columns=demand.PLAN_EXOG, errors="ignore")
    hol = demand.holidays(world.cursor())
    frame = demand.category_response(frame, hol).apply(frame)
    # The last H days are never read: changing them leaves the choice unchanged.
    last = frame["ds"] > frame["ds"].max() - pd.Timedelta(days=H)
    noisy = frame.assign(y=frame["y"].where(~last, frame["y"] * 5))
    got, table = demand.choose_objective(frame, data.keys, H, FAST, hol)
    again, table2 = demand.choose_objective(noisy, data.keys, H, FAST, hol)
    assert set(table["objective"]) == {"squared", "absolute"}
    assert got == table.loc[table["score"].idxmin(), "objective"]
    ratio = np.maximum(
        table["wape"] / table["ets_wape"], table["wape_total"] / table["ets_wape_total"]
    )
    assert np.allclose(ratio, table["score"])
    assert again == got and np.allclose(table["score"], table2["score"])


def test_threshold_is_the_relative_group_threshold_of_the_day(world, data):
    """With ``threshold=True``, ``threshold`` is the mean threshold of the day's campaigns in
    the area over the mean of all the day's listed series, over the series' mean of that
    ratio in the 28 days before; 0 unlisted; and a planning input: split's future frame
    carries the campaigns' (planned) thresholds. By default it is left out."""
    assert "threshold" not in data.frame.columns
    data = demand.history(world.cursor(), threshold=True)
    want = (
        world.cursor()
        .execute(
            """SELECT k.sale_date AS ds, k.sku_id, c.warehouse_id,
                      avg(k.threshold)::DOUBLE AS want
               FROM campaigns k JOIN communities c USING (community_id) GROUP BY ALL"""
        )
        .df()
    )
    want["unique_id"] = want["sku_id"].astype(str) + "@" + want["warehouse_id"].astype(str)
    want["ds"] = pd.to_datetime(want["ds"])
    want["want"] /= want.groupby("ds")["want"].transform("mean")
    # ... over the series' mean of that ratio on its listed days among the 28 before.
    grid = data.frame[["unique_id", "ds"]].merge(want, on=["unique_id", "ds"], how="left")
    usual = grid.groupby("unique_id")["want"].transform(
        lambda r: r.shift(1).rolling(28, min_periods=1).mean()
    )
    grid["want"] = grid["want"] / usual.fillna(grid["want"])
    want = grid.dropna(subset=["want"])
    got = data.frame.merge(want[["unique_id", "ds", "want"]], on=["unique_id", "ds"], how="left")
    listed = got["listed"] > 0
    assert np.allclose(got.loc[listed, "threshold"], got.loc[listed, "want"])
    assert (got.loc[~listed, "threshold"] == 0).all() and got.loc[~listed, "want"].isna().all()
    assert "threshold" in demand.PLAN_EXOG
    _, future, test = demand.split(data, H)
    assert np.allclose(future["threshold"], test["threshold"])


def _threshold_panel(effect: float, seed: int = 0) -> pd.DataFrame:
    """Daily series whose listed days carry a random group threshold 2-10 (independent of
    demand); demand on a listed day is ``level * weekday * exp(effect * (threshold - 6) / 4)``
    (``effect`` 0: thresholds do not move demand)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2025-01-01", periods=240, freq="D")
    weekday = np.array([0.85, 0.8, 0.85, 0.95, 1.1, 1.3, 1.15])[ds.day_of_week]
    parts = []
    for i in range(30):
        listed = (rng.random(len(ds)) < 0.8).astype(float)
        thr = np.where(listed > 0, rng.integers(2, 11, len(ds)), 0).astype(float)
        mean = np.exp(rng.normal(2.5, 0.5)) * weekday * listed * np.exp(effect * (thr - 6) / 4)
        y = rng.poisson(mean).astype(float)
        parts.append(
            pd.DataFrame(
                {"unique_id": f"s{i}", "ds": ds, "y": y, "listed": listed, "threshold": thr}
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("effect", [-0.35, 0.0])
def test_model_responds_to_threshold_only_as_the_data_supports(effect):
    """Forecasts under thresholds 10 vs 2 (same listings) move as the planted effect says.

    The Linli generator plants no effect of the threshold on demand (groups that fail are
    refunded after ordering; thresholds follow the planner's expected units), so the planted
    truth here is synthetic: with ``effect`` -0.35 the demand ratio of threshold 10 to
    threshold 2 is exp(-0.7) = 0.50 and the forecast ratio must fall clearly below 1 towards
    it; with no effect it must stay near 1.
    """
    df = _threshold_panel(effect)
    h = 14
    cut = df["ds"].max() - pd.Timedelta(days=h)
    train, test = df.loc[df["ds"] <= cut], df.loc[df["ds"] > cut]
    future = test[["unique_id", "ds", "listed", "threshold"]].assign(listed=1.0)
    hol = pd.DataFrame(columns=["date", "kind"])
    s = forecasting.Settings(n_estimators=150)
    m = forecasting.fit(
        train, h, future_exog=future.assign(threshold=6.0), holidays=hol, settings=s
    )
    assert "threshold" in m.problem.layout.exog
    high = forecasting.predict(m, future_exog=future.assign(threshold=10.0)).frame["yhat"].sum()
    low = forecasting.predict(m, future_exog=future.assign(threshold=2.0)).frame["yhat"].sum()
    ratio = high / low
    if effect:
        assert 0.4 <= ratio <= 0.75, ratio
    else:
        assert 0.9 <= ratio <= 1.1, ratio


def test_heat_feature_counts_degrees_above_the_response_base():
    """``apply`` sets heat = max(tmax − base, 0), missing where tmax is; 0 without tmax."""
    days = pd.date_range("2026-10-01", periods=3)
    hol = pd.DataFrame({"date": days, "kind": "holiday", "holiday": "国庆节"})
    resp = demand.CategoryResponse(28.0, {"水果": 0.05}, {}, hol)
    frame = pd.DataFrame(
        {
            "ds": pd.date_range("2026-07-01", periods=4),
            "category": ["水果", "水果", "日用百货", "水果"],
            "tmax": [20.0, 31.5, 35.0, np.nan],
        }
    )
    out = resp.apply(frame)
    assert out[demand.HEAT].tolist()[:3] == [0.0, 3.5, 7.0] and np.isnan(out[demand.HEAT].iloc[3])
    assert out[demand.FACTOR].tolist()[:3] == pytest.approx([1.0, np.exp(0.05 * 3.5), 1.0])
    assert resp.apply(frame.drop(columns="tmax"))[demand.HEAT].tolist() == [0.0] * 4
    assert "tmax" in demand.SETTINGS.exclude
