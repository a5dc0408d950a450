"""Forecast training fanned out per region: one global model per region, here or on Spark.

The page's model (:mod:`engine.forecasting.outlook`) is one booster across every series.
Beyond one machine the natural unit of training is the region: its warehouses' series share
a climate, a calendar and a customer base, and a region's history fits in one executor's
memory. :func:`fit_region` fits and forecasts one region from plain pandas; :func:`train`
runs it for every region, in a loop (``engine="local"``) or as ``applyInPandas`` on the
shared Spark session (``engine="spark"``): the same function on the same rows with the
same seed, so the forecasts are identical (tests/engine/test_fanout.py).
"""

from __future__ import annotations

import dataclasses
import functools

import duckdb
import numpy as np
import pandas as pd

from engine import fanout, forecasting
from engine.auth import ALL, Scope
from engine.forecasting import demand, outlook

GROUP = "region_id"
H = outlook.H
LEVELS = (80, 95)
# Region fits are smaller than the page's one model: the same settings, fewer training cells.
SETTINGS = dataclasses.replace(outlook.SETTINGS, max_train_rows=100_000)


def schema(levels: tuple[int, ...] = LEVELS) -> str:
    """The Spark DDL schema of :func:`fit_region`'s result for interval ``levels``."""
    bounds = ", ".join(f"yhat_{s}_{lv} double" for lv in levels for s in ("lo", "hi"))
    return f"{GROUP} long, unique_id string, ds timestamp, yhat double, {bounds}"


def training_frame(
    con: duckdb.DuckDBPyConnection, scope: Scope = ALL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The page's training frame with each series' region, and the holiday calendar.

    Parameters
    ----------
    con
        An open Linli database.
    scope
        The caller's row scope.

    Returns
    -------
    tuple
        ``region_id, unique_id, ds, y, censored`` + exogenous columns (text columns as plain
        strings, ready for Spark), and ``demand.holidays(con)``.

    Raises
    ------
    ValueError
        For a database without orders.
    """
    data = demand.history(con, scope=scope)
    frame = data.frame.drop(columns=demand.PLAN_EXOG, errors="ignore")
    hol = demand.holidays(con)
    frame = demand.category_response(frame, hol).apply(frame)
    region = data.keys.set_index("unique_id")[GROUP].astype("int64")
    frame.insert(0, GROUP, frame["unique_id"].map(region).to_numpy())
    return _plain(frame), hol


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """One canonical layout whichever way the rows travelled (Arrow changes units and dtypes).

    Rows sorted by series and day, timestamps in nanoseconds, text as ``str``, numbers as
    ``float64`` / ``int64``: a region's fit then sees the same arrays on every path.
    """
    out = frame.copy()
    out["ds"] = pd.to_datetime(out["ds"]).astype("datetime64[ns]")
    for col in out.columns:
        kind = out[col].dtype.kind
        if kind == "b" or col == "ds":
            continue
        if kind in "iu":
            out[col] = out[col].astype("int64")
        elif kind == "f":
            out[col] = out[col].astype("float64")
        else:
            out[col] = out[col].astype(str)
    return out.sort_values(["unique_id", "ds"], ignore_index=True)


def fit_region(
    frame: pd.DataFrame,
    h: int = H,
    levels: tuple[int, ...] = LEVELS,
    seed: int = 0,
    settings: forecasting.Settings = SETTINGS,
    holidays: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fit one region's model and forecast its series ``h`` days ahead.

    Module-level with plain pandas in and out, so Spark executors can run it
    (``functools.partial`` binds the parameters).

    Parameters
    ----------
    frame
        One region's rows of :func:`training_frame`.
    h, levels, seed, settings, holidays
        As in :func:`engine.forecasting.fit`; future exogenous values are the planning
        assumptions (:func:`demand.planning_exog`), as on the page.

    Returns
    -------
    pandas.DataFrame
        ``region_id, unique_id, ds, yhat`` and ``yhat_lo_<l>, yhat_hi_<l>`` per level.

    Raises
    ------
    ValueError
        When the rows span more than one region or are too short to fit.
    """
    regions = pd.unique(frame[GROUP])
    if len(regions) != 1:
        raise ValueError(f"fit_region takes one region's rows; got regions {sorted(regions)}")
    train = _plain(frame).drop(columns=GROUP)
    future = demand.planning_exog(train, h)
    m = forecasting.fit(
        train,
        h,
        future_exog=future,
        level=levels,
        seed=seed,
        holidays=holidays,
        settings=settings,
        calibration_exog=demand.planning_exog,
    )
    out = forecasting.predict(m).frame
    out.insert(0, GROUP, np.int64(regions[0]))
    return out


def train(
    frame: pd.DataFrame,
    holidays: pd.DataFrame | None,
    engine: str = "local",
    h: int = H,
    levels: tuple[int, ...] = LEVELS,
    seed: int = 0,
    settings: forecasting.Settings = SETTINGS,
    session=None,
) -> pd.DataFrame:
    """Fit every region's model (:func:`fit_region`) in a loop or on Spark.

    Parameters
    ----------
    frame
        From :func:`training_frame`.
    holidays
        Holiday calendar (from :func:`training_frame`).
    engine
        ``"local"`` or ``"spark"`` (see :func:`engine.fanout.run`).
    h, levels, seed, settings
        As in :func:`fit_region`; every region uses the same seed.
    session
        SparkSession for ``engine="spark"``; ``None`` uses the shared one.

    Returns
    -------
    pandas.DataFrame
        :func:`fit_region`'s columns for every region, sorted by ``region_id, unique_id, ds``.

    Raises
    ------
    ValueError
        On an unknown engine or bad input.
    """
    func = functools.partial(
        fit_region, h=h, levels=tuple(levels), seed=seed, settings=settings, holidays=holidays
    )
    out = fanout.run(_plain(frame), GROUP, func, schema(tuple(levels)), engine, session)
    out["ds"] = pd.to_datetime(out["ds"]).astype("datetime64[ns]")
    out[GROUP] = out[GROUP].astype("int64")
    out["unique_id"] = out["unique_id"].astype(str)
    return out.sort_values([GROUP, "unique_id", "ds"], ignore_index=True)
