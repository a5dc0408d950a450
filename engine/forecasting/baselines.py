"""Baselines computed beside the model: seasonal naive and additive Holt-Winters (ETS(A,N,A)).

Both run on observed sales (sold-out days included as recorded, as a planner copying last
week would) and are vectorised over series, so they stay cheap on thousands of series. The
ETS smoothing parameters are picked per series from a small grid by in-sample one-step
squared error; its intervals use the ETS(A,N,A) closed-form variance. Outputs are clipped
at zero like the model's.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

ALPHAS = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5])
GAMMAS = np.array([0.01, 0.05, 0.15, 0.3])


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
