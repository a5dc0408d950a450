"""Tests of engine.forecasting on seeded synthetic panels with planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine import forecasting
from engine.forecasting import calendar, frames
from tests.engine import synthetic_demand as synth

H = 28
FAST = forecasting.Settings(n_estimators=200, max_train_rows=60_000)
# 659 days from 2024-01-01 end on 2025-10-20: the last 28 days hold the planted heat wave
# (Sep 21-29), the eve of the National Day / Mid-Autumn holidays and the holidays (Oct 1-8).
DAYS = 659


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """Forty seeded series with weekly, holiday, heat and promo effects."""
    return synth.generate(n_series=40, days=DAYS, seed=3)


@pytest.fixture(scope="module")
def result(panel):
    """Model forecast of the last 28 days, baselines, and actuals side by side."""
    train, future, test = synth.split(panel, H)
    fc = forecasting.forecast(train, H, future_exog=future, seed=0, settings=FAST)
    base = forecasting.baseline_forecasts(train, H)
    both = pd.concat([fc.frame.assign(model="xgboost"), base], ignore_index=True)
    cols = ["unique_id", "ds", "y", "censored", "mean", "category"]
    return fc, both.merge(test[cols], on=["unique_id", "ds"])


def _metric(joined: pd.DataFrame, model: str, name: str) -> float:
    """One overall metric of one model."""
    m = forecasting.metrics(joined, ["model"]).set_index("model")
    return float(m.loc[model, name])


def test_beats_seasonal_naive_by_20_percent_wape(result):
    """The model's WAPE over the last 28 days is at least 20 % below seasonal naive's."""
    _, joined = result
    model, naive = _metric(joined, "xgboost", "wape"), _metric(joined, "seasonal_naive", "wape")
    assert model <= 0.8 * naive, (model, naive)


def test_beats_ets(result):
    """The model is also more accurate than the ETS baseline."""
    _, joined = result
    assert _metric(joined, "xgboost", "wape") < _metric(joined, "ets", "wape")


def test_interval_coverage_80_within_5_points(result):
    """The 80 % conformal interval covers 75-85 % of actuals; the 95 % one at least 90 %."""
    _, joined = result
    assert 0.75 <= _metric(joined, "xgboost", "coverage_80") <= 0.85
    assert _metric(joined, "xgboost", "coverage_95") >= 0.90


def test_forecasts_non_negative_and_ordered(result):
    """Point forecasts and bounds are non-negative and lo95 <= lo80 <= yhat <= hi80 <= hi95."""
    fc, _ = result
    f = fc.frame
    cols = ["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]
    assert (f[cols] >= 0).all().all()
    v = f[cols].to_numpy()
    assert (np.diff(v, axis=1) >= -1e-9).all()


def test_holiday_lift_shows_in_forecast(result):
    """On the planted holidays the forecast follows the true lifted demand (±15 %)."""
    _, joined = result
    m = joined.loc[joined["model"] == "xgboost"]
    hol = m["ds"].between("2025-10-01", "2025-10-08")
    ratio = m.loc[hol, "yhat"].sum() / m.loc[hol, "mean"].sum()
    assert 0.85 <= ratio <= 1.15, ratio
    lift = m.loc[hol, "yhat"].mean() / m.loc[m["ds"] >= "2025-10-12", "yhat"].mean()
    assert lift > 1.4, lift


def test_heat_lift_shows_in_forecast(result):
    """During the planted heat wave hot-category forecasts follow the lifted demand (±15 %)."""
    _, joined = result
    m = joined.loc[(joined["model"] == "xgboost") & (joined["category"] == "fruit")]
    wave = m["ds"].between("2025-09-21", "2025-09-27")
    ratio = m.loc[wave, "yhat"].sum() / m.loc[wave, "mean"].sum()
    assert 0.85 <= ratio <= 1.15, ratio


def test_drivers_include_planted_effects(result):
    """Holiday, weekday, temperature and promo features are among the top drivers."""
    fc, _ = result
    top = set(fc.importance["feature"].head(10))
    assert {"promo", "tmax"} <= top
    assert top & {"is_holiday", "holiday_day", "is_off", "days_to_holiday"}
    assert top & {"dow", "is_off", "season_mean_7", "lag_7"}


def test_rollup_adds_up(result, panel):
    """Category and total roll-ups equal the sums of the leaves, bounds included."""
    fc, _ = result
    mapping = panel[["unique_id", "category"]].drop_duplicates()
    up = forecasting.rollup(fc.frame, mapping, ["category", "total"])
    total = up.loc[up["level"] == "total"].set_index("ds")
    leaves = fc.frame.groupby("ds")[["yhat", "yhat_lo_80", "yhat_hi_95"]].sum()
    pd.testing.assert_frame_equal(total[leaves.columns], leaves, check_names=False)
    cats = up.loc[up["level"] == "category"].groupby("ds")["yhat"].sum()
    np.testing.assert_allclose(cats.to_numpy(), leaves["yhat"].to_numpy())


def test_rollup_rejects_unmapped_series(result):
    """A leaf without a mapping row is an error, not a silent drop."""
    fc, _ = result
    mapping = pd.DataFrame({"unique_id": ["s000"], "category": ["fruit"]})
    with pytest.raises(ValueError, match="lack a mapping"):
        forecasting.rollup(fc.frame, mapping, ["category"])


def test_plain_two_series_frame():
    """The API runs on two series with only unique_id, ds, y and no Linli tables."""
    rng = np.random.default_rng(0)
    ds = pd.date_range("2023-03-01", periods=120, freq="D")
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": "A", "ds": ds, "y": rng.poisson(20, 120)}),
            pd.DataFrame({"unique_id": "B", "ds": ds[10:], "y": rng.poisson(5, 110)}),
        ]
    )
    out = forecasting.fit_predict(df, h=7, holidays=pd.DataFrame(columns=["date", "kind"]))
    assert list(out.columns) == [
        "unique_id", "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"
    ]  # fmt: skip
    assert len(out) == 14
    assert out.groupby("unique_id")["ds"].min().tolist() == [pd.Timestamp("2023-06-29")] * 2
    assert (out.drop(columns=["unique_id", "ds"]) >= 0).all().all()
    a, b = out.groupby("unique_id")["yhat"].mean()
    assert 14 < a < 26 and 2 < b < 8


def test_censored_days_are_not_zero_demand():
    """Treating sold-out days as censored removes most of the downward bias they cause."""
    df = synth.generate(n_series=12, days=400, seed=5, stock_cap=0.35)
    train, future, test = synth.split(df, 14)
    truth = test["mean"].sum()
    settings = forecasting.Settings(n_estimators=120)
    aware = forecasting.fit_predict(train, 14, future_exog=future, settings=settings)
    naive = forecasting.fit_predict(
        train.assign(censored=False), 14, future_exog=future, settings=settings
    )
    bias_aware = aware["yhat"].sum() / truth - 1
    bias_naive = naive["yhat"].sum() / truth - 1
    assert bias_naive < -0.05
    assert abs(bias_aware) < abs(bias_naive) / 2, (bias_aware, bias_naive)


def test_backtest_tables():
    """Backtest returns per-series, overall and per-group metrics for the model and baselines."""
    df = synth.generate(n_series=6, days=200, seed=2).drop(columns="mean")
    groups = df[["unique_id", "category"]].drop_duplicates()
    bt = forecasting.backtest(
        df, h=7, n_windows=2, settings=forecasting.Settings(n_estimators=60), groups=groups
    )
    assert set(bt.overall["model"]) == {"xgboost", "seasonal_naive", "ets", "profile"}
    assert len(bt.per_series) == 4 * 6
    assert bt.forecasts["window"].nunique() == 2
    assert bt.forecasts.groupby(["model", "window"]).size().eq(6 * 7).all()
    assert set(bt.by_group["key"]) == {"fruit", "veg"}
    assert bt.overall[["wape", "mase", "coverage_80"]].notna().all().all()
    # Overall WAPE is the pooled ratio, not a mean of ratios.
    x = bt.forecasts.loc[bt.forecasts["model"] == "ets"]
    pooled = (x["y"] - x["yhat"]).abs().sum() / x["y"].sum()
    got = bt.overall.set_index("model").loc["ets", "wape"]
    assert got == pytest.approx(pooled)


def _frame(n: int = 80) -> pd.DataFrame:
    """A valid two-series daily frame."""
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.concat(
        [pd.DataFrame({"unique_id": u, "ds": ds, "y": 3.0}) for u in ("a", "b")],
        ignore_index=True,
    )


BAD_INPUTS = [
    ("gap", lambda d: d.drop(index=5), "date gaps"),
    ("duplicate", lambda d: pd.concat([d, d.iloc[[3]]]), "duplicate"),
    ("negative", lambda d: d.assign(y=np.where(d.index == 7, -1.0, d["y"])), "negative"),
    ("nan", lambda d: d.assign(y=np.where(d.index == 7, np.nan, d["y"])), "finite"),
    ("short", lambda d: d.loc[d["ds"] >= "2024-03-01"], "shorter than"),
    ("missing column", lambda d: d.drop(columns="y"), "lacks column"),
    ("bad dates", lambda d: d.assign(ds="not a date"), "cannot be read as dates"),
    (
        "off grid",
        lambda d: d.assign(ds=d["ds"] + pd.to_timedelta((d.index == 9) * 3, unit="h")),
        "grid",
    ),
    ("empty", lambda d: d.iloc[:0], "empty"),
]


@pytest.mark.parametrize(("case", "mutate", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_raises(case, mutate, message):
    """Each kind of bad training frame raises a ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        forecasting.fit_predict(mutate(_frame()), h=7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq": "fortnight"}, "unknown freq"),
        ({"h": 0}, "positive integer"),
        ({"level": (80, 120)}, "between 0 and 100"),
        ({"settings": "fast"}, "Settings"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    """Unknown frequency, non-positive horizon and bad levels are rejected."""
    args = {"h": 7, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        forecasting.fit_predict(_frame(), **args)


def test_exogenous_columns_need_future_values():
    """Exogenous training columns without future values are an error that names them."""
    df = _frame().assign(tmax=30.0)
    with pytest.raises(ValueError, match="future_exog"):
        forecasting.fit_predict(df, h=7)
    future = frames.validate(_frame(), "D").iloc[:3].assign(tmax=30.0)
    with pytest.raises(ValueError, match="misses"):
        forecasting.fit_predict(df, h=7, future_exog=future)


def test_fill_gaps_zero_is_documented_handling():
    """With fill_gaps='zero' a missing date becomes a zero-sales day instead of an error."""
    df = _frame().drop(index=5)
    out = frames.validate(df, "D", fill_gaps="zero")
    assert len(out) == len(_frame())
    filled = out.loc[(out["unique_id"] == "a") & (out["ds"] == pd.Timestamp("2024-01-06"))]
    assert filled["y"].tolist() == [0.0]


def test_holiday_calendar_features():
    """Spring Festival 2025 is a holiday block and its adjusted Sunday a workday."""
    cal = calendar.features(
        pd.date_range("2025-01-24", "2025-02-09"), "D", calendar.load_holidays()
    )
    assert cal.loc["2025-01-28", "is_holiday"] == 1 and cal.loc["2025-01-28", "holiday_day"] == 1
    assert cal.loc["2025-01-26", "is_adj_workday"] == 1 and cal.loc["2025-01-26", "is_off"] == 0
    assert cal.loc["2025-01-25", "days_to_holiday"] == 3
    assert cal.loc["2025-02-06", "days_since_holiday"] == 2


def test_calibration_under_assumed_exog_widens_intervals():
    """Calibrating under assumed (wrong) promo values gives wider intervals than recorded ones."""
    rng = np.random.default_rng(1)
    ds = pd.date_range("2024-01-01", periods=150, freq="D")
    parts = []
    for uid in ("a", "b", "c"):
        promo = (rng.random(150) < 0.3).astype(int)
        parts.append(
            pd.DataFrame(
                {"unique_id": uid, "ds": ds, "y": rng.poisson(5 + 15 * promo), "promo": promo}
            )
        )
    df = pd.concat(parts, ignore_index=True)
    future = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c"], 7),
            "ds": np.tile(pd.date_range("2024-05-30", periods=7), 3),
            "promo": 0,
        }
    )

    def no_promo(history: pd.DataFrame, h: int) -> pd.DataFrame:
        last = history["ds"].max()
        days = pd.date_range(last + pd.Timedelta(days=1), periods=h)
        ids = history["unique_id"].unique()
        return pd.DataFrame(
            {"unique_id": np.repeat(ids, h), "ds": np.tile(days, len(ids)), "promo": 0}
        )

    settings = forecasting.Settings(n_estimators=80)
    hol = pd.DataFrame(columns=["date", "kind"])
    known = forecasting.fit_predict(df, 7, future_exog=future, holidays=hol, settings=settings)
    assumed = forecasting.predict(
        forecasting.fit(
            df, 7, future_exog=future, holidays=hol, settings=settings, calibration_exog=no_promo
        )
    ).frame
    width = lambda f: (f["yhat_hi_80"] - f["yhat_lo_80"]).mean()  # noqa: E731
    assert width(assumed) > 1.2 * width(known)


def _growing(n_series: int = 12, days: int = 160, rate: float = 0.01, seed: int = 4):
    """Series growing ``rate`` per day (log) with a weekly pattern, Poisson noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-03-01", periods=days, freq="D")
    t = np.arange(days)
    parts = []
    for i in range(n_series):
        mean = np.exp(rng.normal(2.5, 0.4) + rate * t) * synth.WEEKDAY[ds.day_of_week]
        parts.append(pd.DataFrame({"unique_id": f"g{i}", "ds": ds, "y": rng.poisson(mean)}))
    return pd.concat(parts, ignore_index=True)


def test_global_trend_follows_growth():
    """On series growing 1 %/day, trend='global' removes most of the trees' low bias."""
    df = _growing()
    cut = df["ds"].max() - pd.Timedelta(days=28)
    train, truth = df.loc[df["ds"] <= cut], df.loc[df["ds"] > cut, "y"].sum()
    hol = pd.DataFrame(columns=["date", "kind"])
    bias = {}
    for trend in ("none", "global"):
        s = forecasting.Settings(n_estimators=120, trend=trend)
        fc = forecasting.fit_predict(train, 28, holidays=hol, settings=s)
        bias[trend] = fc["yhat"].sum() / truth - 1
    bias_flat, bias_trend = bias["none"], bias["global"]
    assert bias_flat < -0.10, bias_flat  # trees alone stay at the last level
    assert abs(bias_trend) < 0.06, bias_trend


def test_growth_estimate():
    """The common growth is recovered from weekly sums; a flat or short panel gives zero."""
    from engine.forecasting import model

    t = np.arange(56)
    y = np.exp(0.02 * t)[None, :] * np.array([[1.0], [3.0]]) * np.tile(synth.WEEKDAY, 8)
    assert model.growth(y, 7, 8) == pytest.approx(0.02, abs=1e-3)
    assert model.growth(np.ones((3, 56)), 7, 8) == pytest.approx(0.0, abs=1e-12)
    assert model.growth(np.ones((3, 20)), 7, 8) == 0.0
    # A longer window uses the whole seasons there are, if at least MIN_TREND_SEASONS.
    assert model.growth(y, 7, 52) == pytest.approx(0.02, abs=1e-3)
    assert model.growth(y[:, -35:], 7, 52) == 0.0
    assert model.growth(y[:, -35:], 7, 5) == pytest.approx(0.02, abs=1e-3)


def test_offset_column_multiplies_forecast():
    """An offset column is not a feature: forecasts scale with its future values."""
    df = _frame(120).assign(factor=1.0)
    rng = np.random.default_rng(0)
    df["y"] = rng.poisson(10, len(df)).astype(float)
    future = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 7),
            "ds": np.tile(pd.date_range("2024-04-30", periods=7), 2),
            "factor": 1.0,
        }
    )
    s = forecasting.Settings(n_estimators=60, offset="factor")
    hol = pd.DataFrame(columns=["date", "kind"])
    m = forecasting.fit(df, 7, future_exog=future, holidays=hol, settings=s)
    one = forecasting.predict(m).frame
    two = forecasting.predict(m, future_exog=future.assign(factor=2.0)).frame
    assert np.allclose(two["yhat"], 2 * one["yhat"])
    assert "factor" not in set(forecasting.predict(m).importance["feature"])
    with pytest.raises(ValueError, match="positive"):
        forecasting.fit(df.assign(factor=0.0), 7, future_exog=future, holidays=hol, settings=s)
    with pytest.raises(ValueError, match="offset"):
        forecasting.fit(
            df.drop(columns="factor"), 7, holidays=hol, settings=forecasting.Settings(offset="x")
        )


def test_excluded_column_is_carried_but_not_a_feature():
    """An excluded column forecasts exactly as if dropped, yet what-ifs may still pass it."""
    rng = np.random.default_rng(2)
    df = _frame(120).assign(tmax=rng.normal(25, 5, 240), promo=rng.integers(0, 2, 240))
    df["y"] = rng.poisson(10 + 5 * df["promo"]).astype(float)
    future = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 7),
            "ds": np.tile(pd.date_range("2024-04-30", periods=7), 2),
            "tmax": 20.0,
            "promo": 1,
        }
    )
    hol = pd.DataFrame(columns=["date", "kind"])
    base = forecasting.Settings(n_estimators=60)
    s = forecasting.Settings(n_estimators=60, exclude=("tmax", "absent"))
    m = forecasting.fit(df, 7, future_exog=future, holidays=hol, settings=s)
    drop = forecasting.fit(
        df.drop(columns="tmax"),
        7,
        future_exog=future.drop(columns="tmax"),
        holidays=hol,
        settings=base,
    )
    got = forecasting.predict(m)
    assert np.array_equal(got.frame["yhat"], forecasting.predict(drop).frame["yhat"])
    assert "tmax" not in set(got.importance["feature"])
    hot = forecasting.predict(m, future_exog=future.assign(tmax=40.0)).frame
    assert np.array_equal(hot["yhat"], got.frame["yhat"])
    with pytest.raises(ValueError, match="exclude"):
        forecasting.Settings(exclude="tmax")  # type: ignore[arg-type]


def test_absolute_objective_forecasts_the_median_of_intermittent_series():
    """On series listed on about a third of the days the median loss forecasts far lower."""
    df = synth.generate(n_series=10, days=200, seed=4)
    rng = np.random.default_rng(1)
    df.loc[rng.random(len(df)) < 0.65, "y"] = 0.0  # not listed: nothing sold
    train, future, _ = synth.split(df, 14)
    s = forecasting.Settings(n_estimators=100)
    mean = forecasting.fit_predict(train, 14, future_exog=future, settings=s)["yhat"]
    median = forecasting.fit_predict(
        train,
        14,
        future_exog=future,
        settings=forecasting.Settings(n_estimators=100, objective="absolute"),
    )["yhat"]
    assert median.sum() < 0.5 * mean.sum(), (median.sum(), mean.sum())
    with pytest.raises(ValueError, match="objective"):
        forecasting.Settings(objective="huber")
