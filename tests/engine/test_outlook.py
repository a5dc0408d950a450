"""The forecast the pages show (engine.forecasting.outlook): totals, bands, accuracy, scope."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from engine import clock
from engine.forecasting import outlook


def _bands_case(center: float, days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A total's hold-out whose actual / forecast ratio is ``center`` ± 10 % (lognormal)."""
    rng = np.random.default_rng(seed)
    ratio = center * np.exp(0.1 * rng.standard_normal(days))
    hold = pd.DataFrame(
        {
            "model": "xgboost",
            "unique_id": "a",
            "ds": pd.date_range("2026-01-01", periods=days),
            "yhat": 100.0,
            "y": 100.0 * ratio,
        }
    )
    fc = pd.DataFrame(
        {
            "ds": pd.date_range("2027-01-01", periods=7),
            "yhat": 200.0,
            **{f"yhat_lo_{lv}": 0.0 for lv in outlook.LEVELS},
            **{f"yhat_hi_{lv}": 1000.0 for lv in outlook.LEVELS},
        }
    )
    return hold, fc


@pytest.mark.parametrize("center", [1.0, 1.15])
def test_total_bands_contain_the_forecast_and_cover_at_the_nominal_rate(center):
    """A total's bands are centred on its point forecast and calibrated on its hold-out.

    Planted: the total's actual / forecast ratio is lognormal around ``center`` (1.15: the
    total ran 15 % low on the hold-out). New actuals drawn from the same law fall inside the
    80 % band 75-85 % of the time, and every band contains the point forecast, also when the
    hold-out ran off-centre (where quantiles of the ratio would put the band above it).
    """
    hold, fc = _bands_case(center, 400, seed=0)
    out = outlook.total_bands(fc, hold)
    for lv in outlook.LEVELS:
        assert (out[f"yhat_lo_{lv}"] <= out["yhat"]).all()
        assert (out["yhat"] <= out[f"yhat_hi_{lv}"]).all()
    assert (out["yhat_lo_95"] <= out["yhat_lo_80"]).all()
    assert (out["yhat_hi_80"] <= out["yhat_hi_95"]).all()
    fresh = 200.0 * center * np.exp(0.1 * np.random.default_rng(1).standard_normal(20_000))
    lo, hi = out["yhat_lo_80"].iloc[0], out["yhat_hi_80"].iloc[0]
    assert 0.75 <= float(np.mean((fresh >= lo) & (fresh <= hi))) <= 0.85
    assert out["yhat_hi_80"].iloc[0] < 1000.0  # calibrated, not the summed leaf bounds
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


def test_every_band_contains_its_point_forecast(result):
    """Series and totals (each category, warehouse and all series), every day and level:
    lo95 <= lo80 <= lo50 <= yhat <= hi50 <= hi80 <= hi95."""
    cols = [
        *(f"yhat_lo_{lv}" for lv in sorted(outlook.LEVELS, reverse=True)),
        "yhat",
        *(f"yhat_hi_{lv}" for lv in sorted(outlook.LEVELS)),
    ]

    def nested(f: pd.DataFrame) -> bool:
        return bool((np.diff(f[cols].to_numpy(), axis=1) >= -1e-9).all())

    assert nested(result.forecast)
    k = result.keys
    groups = [k["unique_id"].tolist()]
    groups += [g["unique_id"].tolist() for _, g in k.groupby("category")]
    groups += [g["unique_id"].tolist() for _, g in k.groupby("warehouse_id")]
    for ids in groups:
        _, fc = outlook.totals(result, ids)
        assert len(fc) == outlook.H
        assert nested(fc), ids[:3]
