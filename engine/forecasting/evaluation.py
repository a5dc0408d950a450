"""Rolling-origin backtests and accuracy metrics (WAPE, MASE, bias, interval coverage).

Definitions (sums run over forecast cells whose actual is not censored):

- WAPE = Σ|y − ŷ| / Σy
- bias = Σ(ŷ − y) / Σy (positive: over-forecast)
- MASE = mean|y − ŷ| / mean|y_t − y_{t−m}| with the denominator from the series' history
  before the first backtest window; the overall MASE is the mean over series.
- coverage_<l> = share of actuals inside the <l> % interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.forecasting import frames, model, pipeline
from engine.forecasting.frames import CENSORED, DS, ID, Y


@dataclass(frozen=True)
class Backtest:
    """Backtest results.

    Attributes
    ----------
    forecasts
        ``window, cutoff, model, unique_id, ds, y, censored, yhat`` and interval columns.
    per_series
        Metrics per ``model, unique_id``.
    overall
        Metrics per ``model``.
    by_group
        Metrics per ``model, group, key`` for the ``groups`` columns passed (else empty).
    """

    forecasts: pd.DataFrame
    per_series: pd.DataFrame
    overall: pd.DataFrame
    by_group: pd.DataFrame


def backtest(
    df: pd.DataFrame,
    h: int,
    n_windows: int = 1,
    step: int | None = None,
    freq: str = "D",
    level: tuple[int, ...] = (80, 95),
    seed: int = 0,
    holidays: pd.DataFrame | None = None,
    settings: model.Settings | None = None,
    groups: pd.DataFrame | None = None,
    models: tuple[str, ...] = pipeline.MODELS,
) -> Backtest:
    """Rolling-origin evaluation of the model and the baselines.

    Window ``w`` holds out ``h`` periods ending ``(n_windows - 1 - w) * step`` periods
    before each series' last date; everything before is the training frame, and the
    held-out exogenous values are passed as ``future_exog``.

    Parameters
    ----------
    df
        Long frame as for :func:`pipeline.fit_predict`, covering train and test periods.
    h
        Horizon per window.
    n_windows
        Number of forecast origins.
    step
        Periods between origins; defaults to ``h``.
    freq, level, seed, holidays, settings
        As in :func:`pipeline.fit_predict`.
    groups
        Optional ``unique_id`` plus grouping columns (e.g. ``category``, ``community``);
        metrics are also reported per value of each grouping column.
    models
        Subset of ``("xgboost", "seasonal_naive", "ets", "profile")``.

    Returns
    -------
    Backtest
        Forecasts beside actuals and the metric tables.

    Raises
    ------
    ValueError
        On bad input (see :func:`pipeline.fit_predict`), ``n_windows < 1`` or unknown models.
    """
    if n_windows < 1:
        raise ValueError("n_windows must be >= 1")
    bad = set(models) - set(pipeline.MODELS)
    if bad:
        raise ValueError(f"unknown models {sorted(bad)}; choose from {pipeline.MODELS}")
    settings = settings or model.Settings()
    step = step or h
    data = frames.validate(df, freq, settings.fill_gaps, name="df")
    pos = data.groupby(ID, sort=False).cumcount(ascending=False).to_numpy()
    exog = frames.exog_columns(data)
    parts = []
    for w in range(n_windows):
        off = (n_windows - 1 - w) * step
        train = data.loc[pos >= off + h]
        test = data.loc[(pos >= off) & (pos < off + h)]
        future = test[[ID, DS, *exog]] if exog else None
        preds = []
        if "xgboost" in models:
            f = pipeline.fit_predict(train, h, freq, future, level, seed, holidays, settings)
            preds.append(f.assign(model="xgboost"))
        base = [m for m in models if m != "xgboost"]
        if base:
            b = pipeline.baseline_forecasts(train, h, freq, level, settings.fill_gaps)
            preds.append(b.loc[b["model"].isin(base)])
        pred = pd.concat(preds, ignore_index=True)
        got = pred.merge(test[[ID, DS, Y, CENSORED]], on=[ID, DS], how="inner")
        got.insert(0, "cutoff", train[DS].max())
        got.insert(0, "window", w)
        parts.append(got)
    fc = pd.concat(parts, ignore_index=True)
    history = data.loc[pos >= (n_windows - 1) * step + h]
    denom = _mase_denominators(history, freq)
    per_series = metrics(fc, ["model", ID], denom)
    overall = metrics(fc, ["model"], denom)
    mase = per_series.groupby("model")["mase"].mean()
    overall["mase"] = overall["model"].map(mase)
    by_group = pd.DataFrame()
    if groups is not None:
        if ID not in groups.columns:
            raise ValueError("groups needs a unique_id column")
        tabs = []
        for col in [c for c in groups.columns if c != ID]:
            g = fc.merge(groups[[ID, col]], on=ID, how="left").rename(columns={col: "key"})
            t = metrics(g, ["model", "key"], denom)
            t.insert(1, "group", col)
            tabs.append(t)
        by_group = pd.concat(tabs, ignore_index=True) if tabs else by_group
    return Backtest(fc, per_series, overall, by_group)


def _mase_denominators(history: pd.DataFrame, freq: str) -> pd.Series:
    """Mean absolute seasonal difference of each series' history (sold-out days excluded)."""
    season = frames.freq_spec(freq).season
    panel = frames.to_panel(history, frames.freq_spec(freq).alias)
    scale = model.mase_scale(model.observed(panel), season)
    return pd.Series(scale, index=panel.ids)


def metrics(fc: pd.DataFrame, by: list[str], denom: pd.Series | None = None) -> pd.DataFrame:
    """WAPE, bias, MASE (when ``denom`` is given) and coverage per group of ``fc`` rows.

    Parameters
    ----------
    fc
        Rows with ``y``, ``yhat``, optional ``censored`` and ``yhat_lo_<l>/yhat_hi_<l>``.
    by
        Grouping columns.
    denom
        MASE denominators indexed by ``unique_id``.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns plus ``n, actual, wape, bias, mase, coverage_<l>``.
    """
    d = fc if CENSORED not in fc.columns else fc.loc[~fc[CENSORED].astype(bool)]
    d = d.assign(abs_err=(d[Y] - d["yhat"]).abs(), err=d["yhat"] - d[Y])
    levels = sorted(int(c.rsplit("_", 1)[1]) for c in d.columns if c.startswith("yhat_lo_"))
    for lv in levels:
        d[f"in_{lv}"] = (d[Y] >= d[f"yhat_lo_{lv}"] - 1e-9) & (d[Y] <= d[f"yhat_hi_{lv}"] + 1e-9)
    if denom is not None and ID in d.columns:
        d["scaled"] = d["abs_err"] / d[ID].map(denom)
    g = d.groupby(by, sort=True)
    out = g.agg(n=(Y, "size"), actual=(Y, "sum"), abs_err=("abs_err", "sum"), err=("err", "sum"))
    with np.errstate(all="ignore"):
        out["wape"] = out["abs_err"] / out["actual"]
        out["bias"] = out["err"] / out["actual"]
    out["mase"] = g["scaled"].mean() if "scaled" in d.columns else np.nan
    for lv in levels:
        out[f"coverage_{lv}"] = g[f"in_{lv}"].mean()
    return out.drop(columns=["abs_err", "err"]).reset_index()
