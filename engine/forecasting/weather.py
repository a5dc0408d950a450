"""Temperature for the days ahead: a loaded weather forecast, else the usual weather of the date.

The forecaster's ``tmax`` for future days must be a forecast, not last week's weather carried
forward (which misses the turn of the season): rows of the ``weather`` table after ``as_of``
are the operator's forecast (:func:`ahead`); where there are none, :func:`outlook` gives the
usual temperature of each date from earlier years plus today's departure from it, fading.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from engine import clock

ANOMALY_DECAY = 0.85  # per day: how fast today's departure from the usual weather fades
CLIMATE_HALF = 7  # days either side of the same date in earlier years


def outlook(temp: pd.Series, h: int) -> pd.Series:
    """Daily maximum temperature for the ``h`` days after a history, without a forecast.

    The usual temperature of each date (the mean within :data:`CLIMATE_HALF` days of it in
    every earlier year the history covers) plus the last week's departure from its usual
    temperature, fading by :data:`ANOMALY_DECAY` per day: a warm spell fades, the season
    turns. With less than a year of history, the last week's mean (persistence).

    Parameters
    ----------
    temp
        Daily temperature indexed by date (gaps allowed).
    h
        Days ahead.

    Returns
    -------
    pandas.Series
        Temperature indexed by the ``h`` dates after the last one.
    """
    temp = temp.sort_index()
    last = temp.index.max()
    days = pd.date_range(last + pd.Timedelta(days=1), periods=h)
    recent = temp.loc[temp.index > last - pd.Timedelta(days=7)]
    persist = float(recent.mean())

    def usual(d: pd.Timestamp) -> float:
        vals: list[float] = []
        for k in range(1, 20):
            c = d - pd.DateOffset(years=k)
            if c + pd.Timedelta(days=CLIMATE_HALF) < temp.index.min():
                break
            win = temp.loc[
                c - pd.Timedelta(days=CLIMATE_HALF) : c + pd.Timedelta(days=CLIMATE_HALF)
            ]
            vals.extend(win.to_list())
        return float(np.mean(vals)) if len(vals) >= 3 else float("nan")

    past = np.array([usual(d) for d in recent.index])
    if not np.isfinite(past).any():
        return pd.Series(persist, index=days)
    anomaly = persist - float(np.nanmean(past))
    ahead = np.array([usual(d) for d in days])
    fade = ANOMALY_DECAY ** np.arange(1, h + 1)
    out = np.where(np.isfinite(ahead), ahead + anomaly * fade, persist)
    return pd.Series(out, index=days)


def ahead(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Weather forecast rows (``weather`` after ``as_of``) as ``ds, tmax``; empty if none.

    Parameters
    ----------
    con
        An open Linli database.

    Returns
    -------
    pandas.DataFrame
        ``ds, tmax`` per forecast day (mean over cities).
    """
    w = con.execute(
        "SELECT weather_date AS ds, avg(tmax_c) AS tmax FROM weather WHERE weather_date > ? "
        "GROUP BY 1 ORDER BY 1",
        [clock.as_of(con)],
    ).df()
    w["ds"] = pd.to_datetime(w["ds"])
    return w
