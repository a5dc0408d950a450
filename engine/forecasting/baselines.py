"""Baselines computed beside the model: seasonal naive, additive Holt-Winters (ETS(A,N,A)) and a
multiplicative profile (level × weekday × season).

Both run on observed sales (sold-out days included as recorded, as a planner copying last
week would) and are vectorised over series, so they stay cheap on thousands of series. The
ETS smoothing parameters are picked per series from a small grid by in-sample one-step
squared error; its intervals use the ETS(A,N,A) closed-form variance. Outputs are clipped
at zero like the model's. The profile is the planner's spreadsheet done well: each series'
recent level times its own weekday profile times, with two or more years of history, its
year-over-year seasonal ratio (see :func:`profile`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

ALPHAS = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5])
GAMMAS = np.array([0.01, 0.05, 0.15, 0.3])
LEVEL_DAYS = 28  # periods in the profile's level (whole weeks, so weekdays are balanced)
PROFILE_WEEKS = 8  # weeks of history in the weekday profile
PRIOR = 20.0  # units of prior weight pulling a series' weekday profile to the panel's
YEAR = 365  # periods per year (daily data)
SEASON_HALF = 7  # half-width of the window around the same day one year back


def seasonal_naive(
    y: np.ndarray, h: int, season: int, levels: tuple[int, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Repeat the last season; intervals from in-sample seasonal differences.

    Parameters
    ----------
    y
        (n, T) right-aligned history, NaN where missing.
    h, season
        Horizon and season length.
    levels
        Interval levels in percent.

    Returns
    -------
    tuple
        Point forecasts (n, h) and a dict of bound arrays named like the model's columns.
    """
    last = y[:, -season:].copy()
    # A missing value in the last season falls back to the mean of that series' history.
    fill = np.nan_to_num(np.nanmean(y, axis=1, keepdims=True), nan=0.0)
    last = np.where(np.isfinite(last), last, fill)
    idx = np.arange(h) % season
    pred = np.maximum(last[:, idx], 0.0)
    with np.errstate(all="ignore"):
        sigma = np.nanstd(y[:, season:] - y[:, :-season], axis=1)
    sigma = np.nan_to_num(sigma)
    k = np.arange(h) // season + 1
    return pred, _normal_bounds(pred, sigma[:, None] * np.sqrt(k)[None, :], levels)


def ets(
    y: np.ndarray, h: int, season: int, levels: tuple[int, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Additive Holt-Winters without trend, smoothing parameters chosen per series.

    Parameters
    ----------
    y
        (n, T) right-aligned history, NaN where missing (no state update on those days).
    h, season
        Horizon and season length.
    levels
        Interval levels in percent.

    Returns
    -------
    tuple
        Point forecasts (n, h) and a dict of bound arrays named like the model's columns.
    """
    n, t = y.shape
    a, g = np.meshgrid(ALPHAS, GAMMAS, indexing="ij")
    a, g = a.ravel()[None, :], g.ravel()[None, :]  # (1, P)
    p = a.shape[1]
    first = np.argmax(np.isfinite(y), axis=1)
    level0 = np.zeros(n)
    seas0 = np.zeros((n, season))
    for i in range(n):
        w = y[i, first[i] : first[i] + 4 * season]
        level0[i] = np.nanmean(w) if np.isfinite(w).any() else 0.0
        for j in range(season):
            v = w[j::season]
            v = v[np.isfinite(v)]
            seas0[i, (first[i] + j) % season] = v.mean() - level0[i] if len(v) else 0.0
    level = np.repeat(level0[:, None], p, axis=1)
    seas = np.repeat(seas0[:, :, None], p, axis=2)  # (n, season, P)
    sse = np.zeros((n, p))
    cnt = np.zeros((n, 1))
    for c in range(t):
        obs = y[:, c : c + 1]
        ok = np.isfinite(obs) & (c >= first)[:, None]
        s = seas[:, c % season, :]
        err = np.where(ok, obs - level - s, 0.0)
        sse += err**2
        cnt += ok
        level = level + a * err
        seas[:, c % season, :] = s + g * err
    best = np.argmin(sse, axis=1)
    rows = np.arange(n)
    lv = level[rows, best]
    st = seas[rows, :, best]  # (n, season)
    steps = np.arange(t, t + h) % season
    pred = np.maximum(lv[:, None] + st[:, steps], 0.0)
    sigma2 = sse[rows, best] / np.maximum(cnt[:, 0] - 2, 1)
    ab, gb = a[0, best][:, None], g[0, best][:, None]
    hh = np.arange(1, h + 1)[None, :]
    kh = (hh - 1) // season
    var = sigma2[:, None] * (1 + (hh - 1) * ab**2 + kh * gb * (2 * ab + gb))
    return pred, _normal_bounds(pred, np.sqrt(var), levels)


def profile(
    y: np.ndarray, h: int, season: int, levels: tuple[int, ...], annual: int = YEAR
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-series multiplicative profile: level × weekday × season.

    ``level`` is the mean of the last :data:`LEVEL_DAYS` periods; ``weekday`` each position
    in the season (day of week) over the last :data:`PROFILE_WEEKS` seasons relative to
    their mean, shrunk towards the panel's profile with :data:`PRIOR` units of weight.
    ``season`` is 1 unless the history spans at least two years (``2 * annual`` periods):
    then, for each target period and each past year that the history covers, the mean over
    ±:data:`SEASON_HALF` periods around the same period that year divided by the mean over
    that year's level window; the ratio of the summed windows across years (so a year
    counts by its volume), shrunk towards the panel's ratio with :data:`PRIOR` units.
    Intervals are Gaussian with the negative-binomial variance ``mu + phi mu²`` (``phi`` per
    series, from the residuals of the last :data:`PROFILE_WEEKS` seasons).

    Parameters
    ----------
    y
        (n, T) right-aligned history, NaN where missing.
    h, season
        Horizon and season length (7 for daily data).
    levels
        Interval levels in percent.
    annual
        Periods per year.

    Returns
    -------
    tuple
        Point forecasts (n, h) and a dict of bound arrays named like the model's columns.
    """
    n, t = y.shape
    with np.errstate(all="ignore"):
        level = np.nan_to_num(np.nanmean(y[:, -LEVEL_DAYS:], axis=1))
        w = min(PROFILE_WEEKS * season, t)
        recent = y[:, -w:]
        pos = (np.arange(t - w, t) % season)[None, :]
        ok = np.isfinite(recent)
        v = np.where(ok, recent, 0.0)
        sums = np.stack([(v * (pos == k)).sum(axis=1) for k in range(season)], axis=1)
        cnts = np.stack([(ok & (pos == k)).sum(axis=1) for k in range(season)], axis=1)
        mean_k = sums / np.maximum(cnts, 1)
        overall = v.sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
        panel_k = sums.sum(axis=0) / np.maximum(cnts.sum(axis=0), 1)
        panel_wd = np.where(panel_k.mean() > 0, panel_k / panel_k.mean(), 1.0)
        own = np.where(overall[:, None] > 0, mean_k / overall[:, None], panel_wd[None, :])
        wt = (v.sum(axis=1) / (v.sum(axis=1) + PRIOR))[:, None]
        wd = wt * own + (1 - wt) * panel_wd[None, :]
        wd = wd / np.where(wd.mean(axis=1, keepdims=True) > 0, wd.mean(axis=1, keepdims=True), 1)
    steps = np.arange(t, t + h) % season
    seas = _annual_ratio(y, h, annual) if t >= 2 * annual else np.ones((n, h))
    pred = np.maximum(level[:, None] * wd[:, steps] * seas, 0.0)
    # Over-dispersion from the in-sample residuals of the last weeks.
    fitted = level[:, None] * wd[:, pos[0] % season]
    with np.errstate(all="ignore"):
        var = np.nanmean((recent - fitted) ** 2, axis=1)
        phi = np.nan_to_num(np.maximum(var - level, 0.0) / np.maximum(level, 1e-9) ** 2)
    sd = np.sqrt(pred + phi[:, None] * pred**2)
    return pred, _normal_bounds(pred, sd, levels)


def _annual_ratio(y: np.ndarray, h: int, annual: int) -> np.ndarray:
    """(n, h) year-over-year seasonal ratio of each target period (see :func:`profile`)."""
    n, t = y.shape
    v = np.where(np.isfinite(y), y, 0.0)
    csum = np.zeros((n, t + 1))
    np.cumsum(v, axis=1, out=csum[:, 1:])
    num = np.zeros((n, h))
    den = np.zeros((n, h))
    years = 1
    while t - years * annual - LEVEL_DAYS >= 0:
        base = t - years * annual
        den_y = (csum[:, base] - csum[:, base - LEVEL_DAYS]) / LEVEL_DAYS
        for j in range(h):
            c = base + j
            lo, hi = max(c - SEASON_HALF, 0), min(c + SEASON_HALF + 1, t)
            if hi <= lo:
                continue
            num[:, j] += (csum[:, hi] - csum[:, lo]) / (hi - lo)
            den[:, j] += den_y
        years += 1
    panel = np.where(den.sum(axis=0) > 0, num.sum(axis=0) / np.maximum(den.sum(axis=0), 1e-9), 1.0)
    # Units behind each series' ratio: its summed level windows, scaled to days.
    weight = den * LEVEL_DAYS / (den * LEVEL_DAYS + PRIOR)
    own = np.divide(num, den, out=np.tile(panel, (n, 1)), where=den > 0)
    return weight * own + (1 - weight) * panel[None, :]


def _normal_bounds(
    pred: np.ndarray, sd: np.ndarray, levels: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Gaussian intervals around ``pred``, clipped at zero."""
    out = {}
    for lv in levels:
        z = norm.ppf((100 + lv) / 200)
        out[f"yhat_lo_{lv}"] = np.maximum(pred - z * sd, 0.0)
        out[f"yhat_hi_{lv}"] = np.maximum(pred + z * sd, 0.0)
    return out
