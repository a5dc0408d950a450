"""The forecast the pages show (engine.forecasting.outlook): totals, bands, accuracy, scope."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from engine import clock
from engine.forecasting import outlook


def test_total_bands_are_calibrated_on_the_totals_holdout():
    """A total's bands come from its hold-out ratios, narrower than summed leaf bounds."""
    days = pd.date_range("2026-10-01", periods=28)
    rng = np.random.default_rng(0)
    ratio = 1 + 0.1 * rng.standard_normal(28)  # the total errs by about ±10 %
    hold = pd.DataFrame(
        {"model": "xgboost", "unique_id": "a", "ds": days, "yhat": 100.0, "y": 100.0 * ratio}
    )
    fc = pd.DataFrame(
        {
            "ds": pd.date_range("2026-10-29", periods=7),
            "yhat": 200.0,
            **{f"yhat_lo_{lv}": 0.0 for lv in outlook.LEVELS},
            **{f"yhat_hi_{lv}": 1000.0 for lv in outlook.LEVELS},
        }
    )
    out = outlook.total_bands(fc, hold)
    lo, hi = np.quantile(ratio, [0.1, 0.9])
    assert np.allclose(out["yhat_lo_80"], 200 * lo, rtol=0.02)
    assert np.allclose(out["yhat_hi_80"], 200 * hi, rtol=0.02)
    assert (out["yhat_lo_95"] <= out["yhat_lo_80"]).all()
    assert (out["yhat_hi_80"] <= out["yhat_hi_95"]).all()
    # Too short a hold-out keeps the summed leaf bounds.
    assert outlook.total_bands(fc, hold.head(5))["yhat_hi_80"].eq(1000.0).all()


@pytest.fixture(scope="module")
def result(world):
    """The page's forecast of the small world with a small, fast model."""
    fast = dataclasses.replace(outlook.SETTINGS, n_estimators=30, max_train_rows=20_000)
    return outlook.compute(world.cursor(), settings=fast, choose=False)


def test_result_covers_every_series_and_the_horizon(world, result):
    """Every series is forecast H days past as_of at every level, beside its history."""
    assert result.as_of == pd.Timestamp(clock.as_of(world.cursor()))
    days = result.forecast.groupby("unique_id")["ds"].agg(["min", "max", "size"])
    assert (days["size"] == outlook.H).all()
    assert (days["min"] == result.as_of + pd.Timedelta(days=1)).all()
    assert set(days.index) == set(result.keys["unique_id"])
    for lv in outlook.LEVELS:
        assert (result.forecast[f"yhat_lo_{lv}"] <= result.forecast["yhat"] + 1e-9).all()
    assert {"xgboost", "seasonal_naive"} <= set(result.holdout["model"])


def test_select_and_totals_add_up_the_chosen_series(result):
    """A category's total is the sum of its series; its bands contain the point forecast."""
    cat = result.keys["category"].iloc[0]
    ids = outlook.select(result, cat, None, ())
    assert set(ids) == set(result.keys.loc[result.keys["category"] == cat, "unique_id"])
    assert outlook.select(result, cat, None, (999,)) == []
    hist, fc = outlook.totals(result, ids, days=14)
    assert len(hist) == 14
    leaves = result.forecast.loc[result.forecast["unique_id"].isin(ids)]
    assert fc["yhat"].sum() == pytest.approx(leaves["yhat"].sum())
    assert (fc["yhat_lo_80"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_hi_80"]).all()


def test_accuracy_tables(result):
    """Accuracy has one row per model; by category one WAPE column per model."""
    ids = result.keys["unique_id"].tolist()
    acc = outlook.accuracy(result, ids)
    assert sorted(acc["model"]) == sorted(result.holdout["model"].unique())
    assert (acc["wape"] >= 0).all()
    wide = outlook.accuracy_by_category(result, ids)
    assert set(wide["category"]) == set(result.keys["category"])
    assert set(acc["model"]) <= set(wide.columns)
