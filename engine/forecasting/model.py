"""The global xgboost model: recursive multi-step forecasts with conformal intervals.

One model is fitted across all series on scaled targets. Forecasts are recursive: step k's
prediction becomes the lag-1 value of step k + 1. Intervals are split-conformal: the model is
refitted with the last ``h`` periods held out (``calibration_windows`` times, each one ``h``
further back), the held-out residuals are divided by an expected error size (each series' MASE
scale, stretched with the square root of the forecast level, see ``residual_scale``) and
their empirical quantiles give the interval around the final forecast. Quantiles are kept
apart per bin of forecast level (Mondrian conformal: below the median, to the 80th, 95th
percentile and above) and per block of one season of horizon, as far as each cell keeps at
least 200 residuals; otherwise bins and blocks are merged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import xgboost as xgb

from engine.forecasting import features, frames

OBJECTIVES = {"squared": "reg:squarederror", "absolute": "reg:absoluteerror"}
DEBIAS_CLIP = (0.5, 2.0)  # a total off by more than this is not a level error to correct
MIN_PER_BLOCK = 200  # residuals needed to calibrate a (horizon block, level bin) cell alone
MIN_TREND_SEASONS = 8  # whole seasons a growth estimate needs (fewer when trend_seasons is)


@dataclass(frozen=True)
class Settings:
    """Model settings; the defaults suit daily retail series.

    ``lags`` / ``windows`` default by frequency (daily: lags 1–7, 14, 21, 28; means over
    7, 14, 28 days). ``max_train_rows`` caps the sampled training cells so large panels fit
    in bounded time. ``local_level`` makes the booster predict the ratio of the target to
    the series' recent level (its longest rolling mean, recomputed at every recursive step)
    so that forecasts follow growing or shrinking series, which trees alone cannot
    extrapolate. ``censored="impute"`` (default) replaces sold-out days by
    max(sales, a one-step forecast of a light model fitted without them) before fitting;
    ``"drop"`` only leaves them out (biased low when sell-outs mark high demand).
    ``halflife`` (periods) weights training cells by recency. ``trend="global"`` divides
    every series by the panel's common growth (a log-linear fit to the total of the series
    observed over up to the last ``trend_seasons`` whole seasons, see :func:`growth`) before
    fitting and multiplies the forecasts by that growth carried forward, damped by
    ``trend_damping`` per period: trees cannot extrapolate a growing platform, and detrended
    targets keep slow-moving exogenous columns (temperature over a season) from standing in
    for time. The line detrends the whole history, so it should be fitted on about as much:
    fitted on a recent growth spurt it lifts the early months too high, and the trees tie
    that excess to whatever marks those months (temperature, listing counts).
    ``offset`` names an exogenous column holding a known positive multiplier per cell
    (e.g. a weather factor estimated elsewhere, as an exposure in a GLM): sales are divided
    by it before fitting and forecasts multiplied by it; it is not a feature itself.
    ``objective`` is the booster's loss: ``"squared"`` (default; forecasts the mean) or
    ``"absolute"`` (the median: lower WAPE on intermittent series, whose mean a flat forecast
    overshoots on the many zero days, at the cost of totals biased low when summed).
    ``debias`` multiplies every forecast by the calibration window's ratio of actual to
    forecast units (uncensored cells, clipped to :data:`DEBIAS_CLIP`), so totals come out
    unbiased when the model runs high or low as a whole (imputed sell-outs, a growth spurt
    that has ended); intervals are calibrated around the corrected forecast.
    ``exclude`` names exogenous columns kept in the frames but not fed to the booster (names
    absent from the training frame are ignored): a column an offset is computed from (daily
    temperature behind a weather offset) stays available for what-if offsets, while the trees,
    which would split on it again, cannot tie a slow seasonal drift in it to demand.
    ``fill_gaps`` is ``"error"`` or
    ``"zero"`` (see ``frames.validate``).
    ``n_jobs`` defaults to 1 because on a busy 2-core machine xgboost's threads spin against
    each other (measured: 100 trees on 28k rows took 1.4 s with one thread, 10.6 s with two).
    """

    lags: tuple[int, ...] | None = None
    windows: tuple[int, ...] | None = None
    n_estimators: int = 300
    max_depth: int = 6
    learning_rate: float = 0.06
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    max_train_rows: int = 400_000
    calibration_windows: int = 1
    fill_gaps: str = "error"
    n_jobs: int = 1
    local_level: bool = False
    censored: str = "impute"
    strategy: str = "recursive"
    halflife: float | None = None
    trend: str = "none"
    offset: str | None = None
    trend_seasons: int = 8
    trend_damping: float = 0.98
    objective: str = "squared"
    debias: bool = False
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        if self.strategy not in ("recursive", "direct"):
            raise ValueError("strategy must be 'recursive' or 'direct'")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}")
        if self.trend not in ("none", "global"):
            raise ValueError("trend must be 'none' or 'global'")
        if not 0.0 < self.trend_damping <= 1.0:
            raise ValueError("trend_damping must lie in (0, 1]")
        if self.trend_seasons < 2:
            raise ValueError("trend_seasons must be >= 2")
        if self.censored not in ("impute", "drop"):
            raise ValueError("censored must be 'impute' or 'drop'")
        if self.calibration_windows < 1:
            raise ValueError("calibration_windows must be >= 1")
        if self.max_train_rows < 100:
            raise ValueError("max_train_rows must be >= 100")
        if isinstance(self.exclude, str) or not all(isinstance(c, str) for c in self.exclude):
            raise ValueError("exclude must be a tuple of column names")
        for name in ("lags", "windows"):
            v = getattr(self, name)
            if v is not None and (not v or min(v) < 1):
                raise ValueError(f"{name} must be positive integers")


@dataclass(frozen=True)
class Problem:
    """A validated training frame laid out for the model."""

    panel: frames.Panel
    ctx: features.Context
    layout: features.Layout
    h: int
    offset: str | None = None


@dataclass(frozen=True)
class Fitted:
    """One fitted booster with the scales it was trained on."""

    booster: xgb.XGBRegressor
    scale: np.ndarray
    cut: int
    history: np.ndarray  # (n, cut) history it was fitted on: imputed, detrended, offset-divided
    names: list[str] = field(default_factory=list)
    local_level: bool = False
    strategy: str = "recursive"
    growth: float = 0.0  # common log growth per period removed before fitting
    damping: float = 1.0

    def retrend(self, h: int) -> np.ndarray:
        """Growth factors of the ``h`` forecast steps relative to the last fitted period."""
        steps = np.cumsum(self.damping ** np.arange(1, h + 1))
        return np.exp(self.growth * steps)


def offset(problem: Problem, lo: int, hi: int) -> np.ndarray:
    """The known multipliers of panel columns ``[lo, hi)`` (ones without an offset column)."""
    n = problem.panel.y.shape[0]
    name = problem.offset
    if name is None:
        return np.ones((n, hi - lo))
    return np.nan_to_num(problem.ctx.exog[name][:, lo:hi], nan=1.0)


def growth(y: np.ndarray, season: int, seasons: int) -> float:
    """Common log growth per period of a panel (0 when it cannot be estimated).

    Sums the series observed in every one of the last ``seasons`` whole seasons (so series
    entering or leaving do not count as growth), one sum per season (so the seasonal pattern
    cancels), and fits a least-squares line to the log of these sums. A shorter history uses
    the whole seasons it has, when they are at least ``min(seasons, MIN_TREND_SEASONS)``.
    """
    have = min(seasons, y.shape[1] // season)
    if have < min(seasons, MIN_TREND_SEASONS):
        return 0.0
    seasons = have
    width = season * seasons
    tail = y[:, -width:]
    full = np.isfinite(tail).all(axis=1)
    if not full.any():
        return 0.0
    sums = tail[full].reshape(int(full.sum()), seasons, season).sum(axis=(0, 2))
    if (sums <= 0).any():
        return 0.0
    x = np.arange(seasons, dtype=float)
    slope = np.polyfit(x, np.log(sums), 1)[0]
    return float(slope / season)


def observed(panel: frames.Panel) -> np.ndarray:
    """Sales with censored (sold-out) cells set to NaN."""
    return np.where(panel.censored, np.nan, panel.y)


def fit(problem: Problem, cut: int, settings: Settings, seed: int) -> Fitted:
    """Fit the booster on panel columns ``[0, cut)``, imputing censored demand first."""
    raw = problem.panel.y[:, :cut]
    b = (
        growth(raw, problem.layout.season, settings.trend_seasons)
        if settings.trend != "none"
        else 0.0
    )
    # Detrended panel: the last fitted period keeps its level, earlier ones are lifted.
    factor = np.exp(b * (np.arange(cut) - (cut - 1)))[None, :] * offset(problem, 0, cut)
    raw = raw / factor
    y = observed(problem.panel)[:, :cut] / factor
    if settings.censored == "impute" and problem.panel.censored[:, :cut].any():
        y = _impute(problem, y, raw, cut, settings, seed)
    fitted = _fit_on(problem, y, cut, settings, seed)
    return replace(fitted, growth=b, damping=settings.trend_damping)


def _impute(
    problem: Problem, y: np.ndarray, raw: np.ndarray, cut: int, settings: Settings, seed: int
) -> np.ndarray:
    """Latent demand of censored cells: max(recorded sales, one-step forecast).

    Sold-out days are the high-demand days, so leaving them out biases the model down
    (selection on the outcome). A light model fitted on the uncensored cells predicts each
    censored cell from its real history; demand is at least the recorded sales.
    """
    light = replace(
        settings,
        n_estimators=min(settings.n_estimators, 100),
        max_train_rows=min(settings.max_train_rows, 100_000),
    )
    first = _fit_on(problem, y, cut, light, seed)
    rows, cols = np.nonzero(problem.panel.censored[:, :cut])
    out = y.copy()
    out[rows, cols] = raw[rows, cols]
    keep = cols - problem.panel.start[rows] >= problem.layout.season
    rows, cols = rows[keep], cols[keep]
    if len(rows):
        yn = y / first.scale[:, None]
        x = features.matrix(yn, rows, cols, np.log(first.scale), problem.ctx, problem.layout)
        p = first.booster.predict(x)
        if first.local_level:
            p = p * _level(x, problem.layout)
        out[rows, cols] = np.maximum(raw[rows, cols], p * first.scale[rows])
    return out


def _fit_on(problem: Problem, y: np.ndarray, cut: int, settings: Settings, seed: int) -> Fitted:
    """Fit the booster on the history ``y`` (n, cut); NaN cells are not targets."""
    scale = features.scales(y, problem.layout.season)
    yn = y / scale[:, None]
    start = problem.panel.start
    rows, cols = np.nonzero(np.isfinite(yn))
    keep = cols - start[rows] >= problem.layout.season
    rows, cols = rows[keep], cols[keep]
    if len(rows) == 0:
        raise ValueError("no training rows: series are shorter than one season of history")
    rng = np.random.default_rng(seed)
    if len(rows) > settings.max_train_rows:
        pick = rng.choice(len(rows), settings.max_train_rows, replace=False)
        rows, cols = rows[pick], cols[pick]
    origin = None
    if settings.strategy == "direct":
        # Each target cell is seen from one random origin 1..h periods earlier.
        origin = cols - rng.integers(1, problem.h + 1, size=len(cols))
        origin = np.maximum(origin, start[rows] + problem.layout.season - 1)
    x = features.matrix(yn, rows, cols, np.log(scale), problem.ctx, problem.layout, origin)
    model = xgb.XGBRegressor(
        objective=OBJECTIVES[settings.objective],
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        subsample=settings.subsample,
        colsample_bytree=settings.colsample_bytree,
        min_child_weight=settings.min_child_weight,
        tree_method="hist",
        max_bin=128,
        n_jobs=settings.n_jobs,
        random_state=seed,
    )
    target = yn[rows, cols]
    if settings.local_level:
        target = target / _level(x, problem.layout)
    weight = None
    if settings.halflife:
        # Recent periods count more: relations drift (a growing platform sells more per listing).
        weight = 0.5 ** ((cut - 1 - cols) / settings.halflife)
    model.fit(x, target, sample_weight=weight)
    return Fitted(
        model, scale, cut, y, problem.layout.names, settings.local_level, settings.strategy
    )


def predict(problem: Problem, fitted: Fitted, h: int) -> np.ndarray:
    """Forecast ``h`` steps after column ``fitted.cut``; shape (n, h)."""
    n = problem.panel.y.shape[0]
    yn = np.full((n, fitted.cut + h), np.nan)
    yn[:, : fitted.cut] = fitted.history / fitted.scale[:, None]
    log_scale = np.log(fitted.scale)
    # A forecast never exceeds twice the series' largest recorded value: this bounds the
    # feedback of recursive forecasts (a burst becoming the next lag).
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cap = 2 * np.nan_to_num(np.nanmax(yn[:, : fitted.cut], axis=1), nan=0.0)
    if fitted.strategy == "direct":
        rows = np.repeat(np.arange(n), h)
        cols = np.tile(np.arange(fitted.cut, fitted.cut + h), n)
        origin = np.full(len(rows), fitted.cut - 1)
        x = features.matrix(yn, rows, cols, log_scale, problem.ctx, problem.layout, origin)
        p = fitted.booster.predict(x)
        if fitted.local_level:
            p = p * _level(x, problem.layout)
        out = np.clip(p.reshape(n, h), 0.0, cap[:, None])
        known = offset(problem, fitted.cut, fitted.cut + h)
        return out * fitted.scale[:, None] * fitted.retrend(h)[None, :] * known
    rows = np.arange(n)
    for k in range(h):
        col = np.full(n, fitted.cut + k)
        x = features.matrix(yn, rows, col, log_scale, problem.ctx, problem.layout)
        p = fitted.booster.predict(x)
        if fitted.local_level:
            p = p * _level(x, problem.layout)
        yn[:, fitted.cut + k] = np.clip(p, 0.0, cap)
    known = offset(problem, fitted.cut, fitted.cut + h)
    return yn[:, fitted.cut :] * fitted.scale[:, None] * fitted.retrend(h)[None, :] * known


def _level(x: np.ndarray, layout: features.Layout) -> np.ndarray:
    """Local level of each feature row: its longest rolling mean plus a floor of 0.1."""
    j = layout.names.index(f"mean_{max(layout.windows)}")
    return np.nan_to_num(x[:, j], nan=1.0) + 0.1


def mase_scale(y: np.ndarray, season: int) -> np.ndarray:
    """Mean absolute seasonal difference per series (the MASE denominator), never zero."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows fall back below
        d = np.asarray(np.nanmean(np.abs(y[:, season:] - y[:, :-season]), axis=1), dtype=float)
        d1 = np.asarray(np.nanmean(np.abs(np.diff(y, axis=1)), axis=1), dtype=float)
        level = np.asarray(np.nanmean(y, axis=1), dtype=float)
    out: np.ndarray = np.where(np.isfinite(d) & (d > 0), d, d1)
    out = np.where(np.isfinite(out) & (out > 0), out, 0.1 * level)
    return np.where(np.isfinite(out) & (out > 0), out, 1.0)


def residual_scale(
    pred: np.ndarray, history: np.ndarray, level: np.ndarray, season: int
) -> np.ndarray:
    """Expected error size per forecast cell, (n, h).

    The series' MASE scale, stretched by the square root of the forecast relative to the
    series' level: sales are counts whose noise grows like the square root of demand, so a
    holiday forecast twice the usual level gets an interval about 1.4 times wider. The
    quarter-level offset keeps intervals open where the forecast is near zero.
    """
    base = mase_scale(history, season)[:, None]
    lv = level[:, None]
    return base * np.sqrt((np.maximum(pred, 0.0) + 0.25 * lv) / (1.25 * lv))


@dataclass(frozen=True)
class Calibration:
    """Conformal quantiles of scaled residuals per horizon block, level bin and probability.

    Level bins (Mondrian conformal) split the cells by the forecast relative to the series'
    scale: for intermittent series the residuals of near-zero forecasts (mostly zero sales)
    and of high forecasts (a listing day, a holiday) have very different spreads.
    """

    block: int  # horizon steps per block
    probs: tuple[float, ...]
    edges: np.ndarray  # (n_bins - 1,) bin edges of pred / scale
    quantiles: np.ndarray  # (n_blocks, n_bins, len(probs))
    n: np.ndarray  # (n_blocks, n_bins) residuals per cell
    holdout: np.ndarray | None = None  # (n_series, h) forecasts of the last h periods
    ratio: float = 1.0  # multiplier of every forecast (Settings.debias), 1 without it

    def frame(self) -> pd.DataFrame:
        """Quantiles as a long frame for inspection."""
        lo = np.r_[-np.inf, self.edges]
        rows = [
            {
                "block": b,
                "bin_from": float(lo[k]),
                "prob": p,
                "quantile": float(self.quantiles[b, k, j]),
                "n": int(self.n[b, k]),
            }
            for b in range(self.quantiles.shape[0])
            for k in range(self.quantiles.shape[1])
            for j, p in enumerate(self.probs)
        ]
        return pd.DataFrame(rows)

    def bins(self, level: np.ndarray) -> np.ndarray:
        """Bin index of each relative forecast level."""
        return np.searchsorted(self.edges, level, side="right")


def calibrate(
    problem: Problem, settings: Settings, levels: tuple[int, ...], seed: int
) -> Calibration:
    """Hold out the last ``h`` periods (repeatedly) and collect scaled residuals."""
    h, season = problem.h, problem.layout.season
    t = problem.panel.length
    y = observed(problem.panel)
    preds = []
    for w in range(1, settings.calibration_windows + 1):
        cut = t - w * h
        if cut <= season:
            break
        fitted = fit(problem, cut, settings, seed + w)
        preds.append((cut, fitted, predict(problem, fitted, h)))
    if not preds:
        raise ValueError("series too short to hold out a calibration window")
    ratio = 1.0
    if settings.debias:
        num = sum(float(np.nansum(y[:, c : c + h])) for c, _, _ in preds)
        den = sum(
            float(np.sum(np.where(np.isfinite(y[:, c : c + h]), p, 0.0))) for c, _, p in preds
        )
        if den > 0 and num > 0:
            ratio = float(np.clip(num / den, *DEBIAS_CLIP))
    holdout = preds[0][2]
    resid, rel = [], []
    for cut, fitted, raw_pred in preds:
        pred = raw_pred * ratio
        spread = residual_scale(pred, y[:, :cut], fitted.scale, season)
        resid.append((y[:, cut : cut + h] - pred) / spread)
        rel.append(pred / fitted.scale[:, None])
    r = np.concatenate(resid, axis=0)  # (n * windows, h)
    z = np.concatenate(rel, axis=0)
    ok = np.isfinite(r)
    if not ok.any():
        raise ValueError("calibration window holds no uncensored observations")
    probs = tuple(sorted({p for lv in levels for p in ((100 - lv) / 200, (100 + lv) / 200)}))
    step = np.broadcast_to(np.arange(h)[None, :], r.shape)
    for cuts in ((0.5, 0.8, 0.95), (0.5,), ()):
        edges = np.unique(np.quantile(z[ok], cuts)) if cuts else np.array([])
        n_bins = len(edges) + 1
        bins = np.searchsorted(edges, z, side="right")
        for block in (season, h):
            n_blocks = -(-h // block)
            cell = np.minimum(step // block, n_blocks - 1) * n_bins + bins
            counts = np.bincount(cell[ok], minlength=n_blocks * n_bins)
            if counts.min() >= MIN_PER_BLOCK or (block == h and not cuts):
                break
        else:
            continue
        break
    q = np.zeros((n_blocks, n_bins, len(probs)))
    for b in range(n_blocks):
        for k in range(n_bins):
            v = r[ok & (cell == b * n_bins + k)]
            if len(v) == 0:
                v = r[ok]
            q[b, k] = [_conformal_quantile(v, p) for p in probs]
    return Calibration(block, probs, edges, q, counts.reshape(n_blocks, n_bins), holdout, ratio)


def _conformal_quantile(v: np.ndarray, p: float) -> float:
    """Finite-sample corrected empirical quantile (outward from the median)."""
    n = len(v)
    adj = min(1.0, np.ceil((n + 1) * p) / n) if p >= 0.5 else max(0.0, np.floor((n + 1) * p) / n)
    return float(np.quantile(v, adj, method="higher" if p >= 0.5 else "lower"))


def intervals(
    pred: np.ndarray,
    spread: np.ndarray,
    scale: np.ndarray,
    cal: Calibration,
    levels: tuple[int, ...],
) -> dict[str, np.ndarray]:
    """Lower/upper bounds (n, h) per level from :func:`residual_scale`, clipped at zero."""
    h = pred.shape[1]
    block = np.minimum(np.arange(h) // cal.block, cal.quantiles.shape[0] - 1)
    block = np.broadcast_to(block[None, :], pred.shape)
    bins = cal.bins(pred / scale[:, None])
    out = {}
    for lv in levels:
        q_lo = cal.quantiles[block, bins, cal.probs.index((100 - lv) / 200)]
        q_hi = cal.quantiles[block, bins, cal.probs.index((100 + lv) / 200)]
        out[f"yhat_lo_{lv}"] = np.maximum(pred + q_lo * spread, 0.0)
        out[f"yhat_hi_{lv}"] = np.maximum(pred + q_hi * spread, 0.0)
    return out


def importance(fitted: Fitted) -> pd.DataFrame:
    """Total gain per feature, as share of all gain, largest first."""
    score = fitted.booster.get_booster().get_score(importance_type="total_gain")
    names = {f"f{i}": n for i, n in enumerate(fitted.names)}
    df = pd.DataFrame({"feature": [names.get(k, k) for k in score], "gain": list(score.values())})
    if df.empty:
        return pd.DataFrame({"feature": [], "gain": [], "share": []})
    df["share"] = df["gain"] / df["gain"].sum()
    return df.sort_values("gain", ascending=False, ignore_index=True)
