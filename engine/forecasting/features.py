"""Feature matrix of the global model: lags, rolling means, calendar and exogenous columns.

Targets are divided by a per-series scale (recent mean sales), so one model serves series of
very different sizes; the log of that scale is itself a feature. Censored days (sold out) are
NaN in the scaled history: they are neither targets nor lag values, xgboost treats them as
missing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.forecasting import calendar, frames

ANNUAL = {"D": 365, "W": 52, "MS": 12, "ME": 12, "h": 24 * 365}  # periods per year


@dataclass(frozen=True)
class Layout:
    """Which features the model uses, in column order."""

    lags: tuple[int, ...]
    windows: tuple[int, ...]
    season: int
    calendar: tuple[str, ...]
    exog: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """Feature names in matrix order."""
        return [
            *(f"lag_{lag}" for lag in self.lags),
            *(f"mean_{w}" for w in self.windows),
            f"season_mean_{self.season}",
            "log_scale",
            "horizon",
            *self.calendar,
            *self.exog,
        ]


@dataclass(frozen=True)
class Context:
    """Everything indexed by panel cell that the features read besides the target."""

    cal_index: np.ndarray  # (n, T + h) row of cal_values for each cell
    cal_values: np.ndarray  # (n_dates, n_calendar_features)
    exog: dict[str, np.ndarray]  # column -> (n, T + h)


def context(
    panel: frames.Panel,
    h: int,
    holidays: pd.DataFrame | None,
    exog: dict[str, np.ndarray],
) -> tuple[Context, tuple[str, ...]]:
    """Build the calendar lookup for all training and future cells."""
    dates = panel.dates(extra=h)
    uniq, inverse = np.unique(dates.ravel(), return_inverse=True)
    spec = frames.freq_spec(panel.freq)
    cal = calendar.features(pd.DatetimeIndex(uniq), spec.alias, holidays)
    if panel.length < 2 * ANNUAL.get(spec.alias, 0):
        # With under two years of history the day of year / month is just a time index:
        # trees would pin one-off events (a festival week, a heat wave) on it.
        cal = cal.drop(columns=[c for c in ("doy", "month", "week") if c in cal.columns])
    ctx = Context(inverse.reshape(dates.shape), cal.to_numpy(dtype=float), exog)
    return ctx, tuple(cal.columns)


def scales(y: np.ndarray, season: int) -> np.ndarray:
    """Per-series scale: mean of the last 8 seasons of observed sales, never zero."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are handled below
        recent = np.asarray(np.nanmean(y[:, -8 * season :], axis=1), dtype=float)
        overall = np.asarray(np.nanmean(y, axis=1), dtype=float)
        top = np.asarray(np.max(np.where(np.isnan(y), -np.inf, y), axis=1), dtype=float)
    s: np.ndarray = np.where(np.isfinite(recent) & (recent > 0), recent, overall)
    s = np.where(np.isfinite(s) & (s > 0), s, top)
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)


def matrix(
    yn: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    log_scale: np.ndarray,
    ctx: Context,
    layout: Layout,
    origin: np.ndarray | None = None,
) -> np.ndarray:
    """Feature rows for target cells ``(rows[j], cols[j])``.

    History features (lags, rolling and same-weekday means) read ``yn`` up to column
    ``origin`` (default ``cols - 1``: one step ahead); lag ``l`` is the value ``l`` periods
    before the first step after the origin, and ``horizon`` is ``cols - origin``. Calendar and
    exogenous features are those of the target cell.
    """
    origin = cols - 1 if origin is None else origin
    c0 = origin + 1  # first column after the known history
    feats: list[np.ndarray] = []
    for lag in layout.lags:
        c = c0 - lag
        v = np.full(len(rows), np.nan)
        ok = c >= 0
        v[ok] = yn[rows[ok], c[ok]]
        feats.append(v)
    finite = np.isfinite(yn)
    csum = np.zeros((yn.shape[0], yn.shape[1] + 1))
    ccnt = np.zeros_like(csum)
    np.cumsum(np.where(finite, yn, 0.0), axis=1, out=csum[:, 1:])
    np.cumsum(finite, axis=1, out=ccnt[:, 1:])
    for w in layout.windows:
        lo = np.maximum(c0 - w, 0)
        total = csum[rows, c0] - csum[rows, lo]
        count = ccnt[rows, c0] - ccnt[rows, lo]
        feats.append(np.divide(total, count, out=np.full(len(rows), np.nan), where=count > 0))
    m = layout.season
    horizon = cols - origin
    first = -(-horizon // m)  # same weekday, the nearest one inside the known history
    same = np.full((4, len(rows)), np.nan)
    for k in range(4):
        c = cols - m * (first + k)
        ok = c >= 0
        same[k, ok] = yn[rows[ok], c[ok]]
    cnt = np.isfinite(same).sum(axis=0)
    total = np.where(np.isfinite(same), same, 0.0).sum(axis=0)
    feats.append(np.divide(total, cnt, out=np.full(len(rows), np.nan), where=cnt > 0))
    feats.append(log_scale[rows])
    feats.append(horizon.astype(float))
    cal = ctx.cal_values[ctx.cal_index[rows, cols]]
    feats.extend(cal.T)
    feats.extend(ctx.exog[c][rows, cols] for c in layout.exog)
    return np.column_stack(feats).astype(np.float32)
