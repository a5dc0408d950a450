"""Cached wrappers around the demand forecast and purchase planning for the 需求预测 page.

One model is fitted per data version (SKU × warehouse, 28 days ahead). Campaigns after
``as_of`` are not in the data, so the page's model leaves the listing plan out (weather and
topic trend from planning assumptions). Its calibration hold-out (the last 28 days, unseen by
the calibration model, under the same assumptions) gives the accuracy shown beside the
baselines. The model's loss (mean or median forecast) is chosen on the 28 days before that
hold-out (``demand.choose_objective``, see docs/forecasting.md).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import duckdb
import pandas as pd

from dashboard import auth, db
from engine import db as dbmod
from engine import demand, forecasting, purchasing
from engine.auth import ALL, Scope

H = 28
LEVELS = (50, 80, 95)
# Smaller than the engine defaults so the page answers in seconds on the demo world.
SETTINGS = dataclasses.replace(demand.SETTINGS, n_estimators=200, max_train_rows=150_000)


@dataclass(frozen=True)
class Result:
    """Everything the page shows, for all series (the page filters)."""

    history: pd.DataFrame  # unique_id, ds, y, censored
    forecast: pd.DataFrame  # unique_id, ds, yhat, bounds
    keys: pd.DataFrame  # unique_id, sku_id, warehouse_id, name, category, ...
    importance: pd.DataFrame  # feature, gain, share
    holdout: pd.DataFrame  # model, unique_id, ds, yhat, y, censored
    as_of: pd.Timestamp
    objective: str = "squared"  # the model's loss (squared: mean, absolute: median)
    choice: pd.DataFrame | None = None  # demand.choose_objective's table, if it ran


@auth.cache_scoped(show_spinner=False, max_entries=4)
def result(version: str, seed: int = 0, *, scope: Scope) -> Result:
    """Fit the model on the scope's history and forecast 28 days ahead."""
    return _fitted(str(dbmod.db_path()), version, seed, scope)


# A fit takes tens of seconds, so it also outlives st.cache_data.clear() (the page tests clear
# caches per test); the key holds the database path, its data version and the row scope.
@functools.lru_cache(maxsize=4)
def _fitted(path: str, version: str, seed: int, scope: Scope) -> Result:
    """Fit and forecast for one database file, data version and row scope."""
    return compute(db.cursor(), scope, seed)


def compute(
    cur: duckdb.DuckDBPyConnection,
    scope: Scope = ALL,
    seed: int = 0,
    settings: forecasting.Settings = SETTINGS,
    choose: bool = True,
) -> Result:
    """The page's model on an open database, without Streamlit (see ``bench.forecast_page``).

    ``choose`` picks the loss (mean or median forecast) on the 28 days before the hold-out
    (``demand.choose_objective``); ``False`` keeps ``settings.objective``.
    """
    data = demand.history(cur, scope=scope)
    # Campaigns past as_of are not planned yet: forecast without the listing plan, with
    # intervals calibrated under the same planning assumptions.
    frame = data.frame.drop(columns=demand.PLAN_EXOG)
    hol = demand.holidays(cur)
    # The category factor (response to heat and festival weeks, the offset) comes with the
    # frame; planning_exog re-estimates it for assumed future temperatures.
    frame = demand.category_response(frame, hol).apply(frame)
    future = demand.planning_exog(frame, H)
    choice = None
    if choose:
        try:
            objective, choice = demand.choose_objective(frame, data.keys, H, settings, hol, seed)
            settings = dataclasses.replace(settings, objective=objective)
        except ValueError:  # history too short for an earlier window: keep the default
            pass
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
    )


@auth.cache_scoped(show_spinner=False, max_entries=16)
def purchase_plan(
    version: str, days: int, warehouses: tuple[int, ...], *, scope: Scope
) -> purchasing.PurchasePlan:
    """Purchase orders for the next ``days`` days after each supplier's lead time."""
    r = result(version)
    cur = db.cursor()
    stock = purchasing.stock(cur, scope)
    keys = r.keys
    if warehouses:
        keys = keys.loc[keys["warehouse_id"].isin(warehouses)]
    return purchasing.plan(r.forecast, keys, stock, purchasing.suppliers(cur), r.as_of, days=days)


@auth.cache_scoped(show_spinner=False)
def warehouses(version: str, *, scope: Scope) -> pd.DataFrame:
    """Warehouses inside the row scope, with their region and the regions they serve."""
    cur = db.cursor()
    table = cur.execute(
        "SELECT w.warehouse_id, w.name, w.region_id, "
        "list(DISTINCT c.region_id ORDER BY c.region_id) AS serves "
        "FROM warehouses w LEFT JOIN communities c USING (warehouse_id) "
        "GROUP BY ALL ORDER BY w.warehouse_id"
    ).df()
    return scope.keep(cur, table, "warehouse_id").reset_index(drop=True)


def select(r: Result, category: str | None, sku: int | None, whs: tuple[int, ...]) -> list[str]:
    """The series ids matching the page's choices."""
    k = r.keys
    if whs:
        k = k.loc[k["warehouse_id"].isin(whs)]
    if category:
        k = k.loc[k["category"] == category]
    if sku is not None:
        k = k.loc[k["sku_id"] == sku]
    return k["unique_id"].tolist()


def totals(r: Result, ids: list[str], days: int = 56) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summed history (last ``days``) and bottom-up summed forecast of the chosen series.

    The point forecast is the sum of the leaves. Its intervals are not: summing the leaves'
    bounds assumes every series errs the same way on the same day and gives a band several
    times too wide. For more than one series the total's bands are calibrated on the total's
    own hold-out (:func:`total_bands`), when the hold-out has enough days.
    """
    h = r.history.loc[r.history["unique_id"].isin(ids)]
    h = h.loc[h["ds"] > r.as_of - pd.Timedelta(days=days)]
    hist = h.groupby("ds", as_index=False)["y"].sum()
    mapping = pd.DataFrame({"unique_id": ids, "total": "total"})
    f = r.forecast.loc[r.forecast["unique_id"].isin(ids)]
    fc = forecasting.rollup(f, mapping, ["total"]).drop(columns=["level", "key"])
    if len(ids) > 1:
        fc = total_bands(fc, r.holdout.loc[r.holdout["unique_id"].isin(ids)])
    return hist, fc


def total_bands(fc: pd.DataFrame, holdout: pd.DataFrame, min_days: int = 14) -> pd.DataFrame:
    """Bands of a summed forecast from the summed hold-out: split-conformal on the ratio.

    The hold-out gives, per day, the total's actual over its forecast; the ``(1 - level) / 2``
    and ``(1 + level) / 2`` quantiles of that ratio, times the forecast, are the bands (always
    containing the forecast). With fewer than ``min_days`` hold-out days the summed leaf
    bounds are kept.
    """
    hold = holdout.loc[holdout["model"] == "xgboost"]
    daily = hold.groupby("ds")[["y", "yhat"]].sum()
    daily = daily.loc[daily["yhat"] > 0]
    if len(daily) < min_days:
        return fc
    ratio = daily["y"] / daily["yhat"]
    out = fc.copy()
    for lv in LEVELS:
        a = (1 - lv / 100) / 2
        lo, hi = ratio.quantile(a), ratio.quantile(1 - a)
        out[f"yhat_lo_{lv}"] = out["yhat"] * min(lo, 1.0)
        out[f"yhat_hi_{lv}"] = out["yhat"] * max(hi, 1.0)
    return out


def accuracy(r: Result, ids: list[str]) -> pd.DataFrame:
    """WAPE, bias and the model's gain over each baseline on the hold-out, chosen series."""
    d = r.holdout.loc[r.holdout["unique_id"].isin(ids)]
    m = forecasting.metrics(d, ["model"])[["model", "n", "actual", "wape", "bias"]]
    return m


def accuracy_by_category(r: Result, ids: list[str]) -> pd.DataFrame:
    """Hold-out WAPE per category and model, wide (one column per model)."""
    d = r.holdout.loc[r.holdout["unique_id"].isin(ids)]
    d = d.merge(r.keys[["unique_id", "category"]], on="unique_id")
    m = forecasting.metrics(d, ["category", "model"])
    return m.pivot(index="category", columns="model", values="wape").reset_index()
