"""The forecast the pages show: SKU × warehouse demand 28 days ahead, its accuracy and totals.

One model is fitted per data version and row scope. Campaigns after ``as_of`` are not in the
data, so this model leaves the listing plan out (weather and topic trend from planning
assumptions). Its calibration hold-out (the last 28 days, unseen by the calibration model,
under the same assumptions) gives the accuracy shown beside the baselines. The model's loss
(mean or median forecast) is chosen on the 28 days before that hold-out
(:func:`engine.forecasting.demand.choose_objective`, see docs/forecasting.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from engine import forecasting
from engine.auth import ALL, Scope
from engine.forecasting import demand, weather

H = 28
LEVELS = (50, 80, 95)
# Smaller than the engine defaults so the page answers in seconds on the demo world.
SETTINGS = dataclasses.replace(demand.SETTINGS, n_estimators=200, max_train_rows=150_000)


@dataclass(frozen=True)
class Result:
    """Everything the forecast page shows, for all series of the scope (the page filters)."""

    history: pd.DataFrame  # unique_id, ds, y, censored
    forecast: pd.DataFrame  # unique_id, ds, yhat, bounds
    keys: pd.DataFrame  # unique_id, sku_id, warehouse_id, name, category, ...
    importance: pd.DataFrame  # feature, gain, share
    holdout: pd.DataFrame  # model, unique_id, ds, yhat, y, censored
    as_of: pd.Timestamp
    objective: str = "squared"  # the model's loss (squared: mean, absolute: median)
    choice: pd.DataFrame | None = None  # demand.choose_objective's table, if it ran
    derived: tuple[str, ...] = ()  # what demand.history derived rather than read
    debias: float = 1.0  # the model's debias ratio; hold-out yhat times it is the model's


def compute(
    con: duckdb.DuckDBPyConnection,
    scope: Scope = ALL,
    seed: int = 0,
    settings: forecasting.Settings = SETTINGS,
    choose: bool = True,
    progress: Callable[[str, float], None] | None = None,
) -> Result:
    """Fit the page's model on the scope's history and forecast :data:`H` days ahead.

    Parameters
    ----------
    con
        An open Linli database.
    scope
        The caller's row scope: the series hold only the demand of its communities.
    seed
        Seed of the model fit.
    settings
        Model settings; default :data:`SETTINGS`.
    choose
        Pick the loss (mean or median forecast) on the 28 days before the hold-out
        (:func:`demand.choose_objective`); ``False`` keeps ``settings.objective``.
    progress
        Called with (step, fraction done): ``history``, ``loss``, ``fit``, ``baselines``.

    Returns
    -------
    Result
        History, forecast with bands at :data:`LEVELS`, series keys, feature importance,
        the hold-out of the model and the baselines, the as-of day and the loss used.

    Raises
    ------
    ValueError
        For a database without orders.
    """
    report = progress or (lambda step, frac: None)
    report("history", 0.02)
    data = demand.history(con, scope=scope)
    # Campaigns past as_of are not planned yet: forecast without the listing plan, with
    # intervals calibrated under the same planning assumptions.
    frame = data.frame.drop(columns=demand.PLAN_EXOG, errors="ignore")
    hol = demand.holidays(con)
    # The category factor (response to heat and festival weeks, the offset) comes with the
    # frame; planning_exog re-estimates it for assumed future temperatures.
    frame = demand.category_response(frame, hol).apply(frame)
    # Temperature ahead: the loaded weather forecast where there is one (issue 18).
    future = demand.planning_exog(frame, H, weather_forecast=weather.ahead(con))
    choice = None
    if choose:
        report("loss", 0.1)
        try:
            objective, choice = demand.choose_objective(frame, data.keys, H, settings, hol, seed)
            settings = dataclasses.replace(settings, objective=objective)
        except ValueError:  # history too short for an earlier window: keep the default
            pass
    report("fit", 0.4)
    m = forecasting.fit(
        frame,
        H,
        future_exog=future,
        level=LEVELS,
        seed=seed,
        holidays=hol,
        settings=settings,
        calibration_exog=demand.planning_exog,
    )
    fc = forecasting.predict(m)
    report("baselines", 0.9)
    hold = forecasting.holdout(m).assign(model="xgboost")
    cut = data.frame["ds"].max() - pd.Timedelta(days=H)
    base = forecasting.baseline_forecasts(data.frame.loc[data.frame["ds"] <= cut], H)
    actual = hold[["unique_id", "ds", "y", "censored"]]
    base = base[["model", "unique_id", "ds", "yhat"]].merge(actual, on=["unique_id", "ds"])
    holdout = pd.concat([hold, base], ignore_index=True)
    hist = data.frame[["unique_id", "ds", "y", "censored"]]
    return Result(
        hist,
        fc.frame,
        data.keys,
        fc.importance,
        holdout,
        data.frame["ds"].max(),
        settings.objective,
        choice,
        data.derived,
        m.calibration.ratio,
    )


def select(
    r: Result, category: str | None, sku: int | None, warehouses: tuple[int, ...]
) -> list[str]:
    """Return the ids of the series matching a category, a SKU and warehouses.

    Parameters
    ----------
    r
        A computed result.
    category
        Keep this category only; ``None`` or empty for all.
    sku
        Keep this SKU only; ``None`` for all.
    warehouses
        Keep these warehouses only; empty for all.

    Returns
    -------
    list of str
        Series ids (``unique_id``).
    """
    k = r.keys
    if warehouses:
        k = k.loc[k["warehouse_id"].isin(warehouses)]
    if category:
        k = k.loc[k["category"] == category]
    if sku is not None:
        k = k.loc[k["sku_id"] == sku]
    return k["unique_id"].tolist()


def totals(r: Result, ids: list[str], days: int = 56) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the summed history (last ``days``) and bottom-up summed forecast of some series.

    The point forecast is the sum of the leaves. Its intervals are not: summing the leaves'
    bounds assumes every series errs the same way on the same day and gives a band several
    times too wide. For more than one series the total's bands are calibrated on the total's
    own hold-out (:func:`total_bands`), when the hold-out has enough days.

    Parameters
    ----------
    r
        A computed result.
    ids
        The series to add up.
    days
        Days of history to return.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(ds, y)`` history and ``(ds, yhat, yhat_lo_*, yhat_hi_*)`` forecast.
    """
    h = r.history.loc[r.history["unique_id"].isin(ids)]
    h = h.loc[h["ds"] > r.as_of - pd.Timedelta(days=days)]
    hist = h.groupby("ds", as_index=False)["y"].sum()
    mapping = pd.DataFrame({"unique_id": ids, "total": "total"})
    f = r.forecast.loc[r.forecast["unique_id"].isin(ids)]
    fc = forecasting.rollup(f, mapping, ["total"]).drop(columns=["level", "key"])
    if len(ids) > 1:
        hold = r.holdout.loc[r.holdout["unique_id"].isin(ids)]
        # The hold-out is the calibration model's forecast before the debias ratio (so the
        # page's accuracy is out of sample); the bands are around the debiased forecast.
        model = hold["model"] == "xgboost"
        hold = hold.assign(yhat=hold["yhat"].where(~model, hold["yhat"] * r.debias))
        fc = total_bands(fc, hold)
    return hist, fc


def total_bands(fc: pd.DataFrame, holdout: pd.DataFrame, min_days: int = 14) -> pd.DataFrame:
    """Return a summed forecast with bands around it from the summed hold-out (split-conformal).

    The hold-out gives, per day, the total's actual over its forecast (the model as used,
    debias included). The band of level ``l`` is ``yhat · exp(±q)`` with ``q`` the
    finite-sample conformal ``l`` % quantile of ``|log(actual / forecast)|``: the band is
    centred on the total's own point forecast, so it always contains it, and it covers the
    hold-out days' totals at the nominal rate (a total that ran off-centre on the hold-out
    gets a wider band, not one beside its forecast). Where days without sales make ``q``
    infinite, that level keeps the summed leaf bounds (which contain the forecast too).

    Parameters
    ----------
    fc
        The summed forecast: ``yhat`` and ``yhat_lo_<level>``/``yhat_hi_<level>`` for each of
        :data:`LEVELS`.
    holdout
        Hold-out rows (``model, ds, y, yhat``) of the summed series; only the model's
        (``xgboost``) are used.
    min_days
        With fewer hold-out days than this, the summed leaf bounds are kept.

    Returns
    -------
    pandas.DataFrame
        A copy of ``fc`` with calibrated bands.
    """
    hold = holdout.loc[holdout["model"] == "xgboost"]
    daily = hold.groupby("ds")[["y", "yhat"]].sum()
    daily = daily.loc[daily["yhat"] > 0]
    if len(daily) < min_days:
        return fc
    with np.errstate(divide="ignore"):  # a day without sales is an infinite miss
        err = np.sort(np.abs(np.log(daily["y"] / daily["yhat"])).to_numpy())
    n = len(err)
    out = fc.copy()
    for lv in LEVELS:
        k = min(int(np.ceil((n + 1) * lv / 100)), n) - 1  # conformal rank, capped at the max
        if not np.isfinite(err[k]):  # too many empty days for a ratio band: keep the sums
            continue
        q = float(np.exp(err[k]))
        out[f"yhat_lo_{lv}"] = out["yhat"] / q
        out[f"yhat_hi_{lv}"] = out["yhat"] * q
    return out


def accuracy(r: Result, ids: list[str]) -> pd.DataFrame:
    """Return hold-out WAPE and bias of the model and each baseline over some series.

    Parameters
    ----------
    r
        A computed result.
    ids
        The series to score.

    Returns
    -------
    pandas.DataFrame
        ``model, n, actual, wape, bias``, one row per model.
    """
    d = r.holdout.loc[r.holdout["unique_id"].isin(ids)]
    return forecasting.metrics(d, ["model"])[["model", "n", "actual", "wape", "bias"]]


def accuracy_by_category(r: Result, ids: list[str]) -> pd.DataFrame:
    """Return hold-out WAPE per category and model, wide (one column per model).

    Parameters
    ----------
    r
        A computed result.
    ids
        The series to score.

    Returns
    -------
    pandas.DataFrame
        ``category`` and one WAPE column per model.
    """
    d = r.holdout.loc[r.holdout["unique_id"].isin(ids)]
    d = d.merge(r.keys[["unique_id", "category"]], on="unique_id")
    m = forecasting.metrics(d, ["category", "model"])
    return m.pivot(index="category", columns="model", values="wape").reset_index()
