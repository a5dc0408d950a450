"""Public entry points: validate a long frame, fit, forecast with intervals, baselines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.forecasting import baselines, calendar, features, frames, model
from engine.forecasting.frames import CENSORED, DS, ID

MODELS = ("xgboost", "seasonal_naive", "ets", "profile")


@dataclass(frozen=True)
class Forecast:
    """A forecast with what explains it.

    Attributes
    ----------
    frame
        ``unique_id, ds, yhat, yhat_lo_<level>, yhat_hi_<level>`` per level.
    importance
        ``feature, gain, share`` of the final booster, largest first.
    calibration
        Conformal quantiles of scaled residuals (``block, prob, quantile, n``).
    """

    frame: pd.DataFrame
    importance: pd.DataFrame
    calibration: pd.DataFrame


def _check_levels(level: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Levels as a sorted tuple of ints in (0, 100)."""
    try:
        out = tuple(sorted({int(v) for v in level}))
    except (TypeError, ValueError):
        raise ValueError(f"level must be integers such as (80, 95), got {level!r}") from None
    if not out or out[0] <= 0 or out[-1] >= 100:
        raise ValueError(f"levels must lie strictly between 0 and 100, got {level!r}")
    return out


def _check_future(
    future: pd.DataFrame | None, expected: pd.DataFrame, cols: list[str]
) -> pd.DataFrame | None:
    """The future exogenous rows, one per expected (unique_id, ds), or a clear error."""
    if not cols:
        return None
    if future is None:
        raise ValueError(f"train has exogenous columns {cols}; pass future_exog with them")
    missing = [c for c in (ID, DS, *cols) if c not in future.columns]
    if missing:
        raise ValueError(f"future_exog lacks column(s) {missing}")
    fut = future.copy()
    fut[DS] = pd.to_datetime(fut[DS])
    if fut.duplicated([ID, DS]).any():
        raise ValueError("future_exog has duplicate (unique_id, ds) rows")
    got = expected.merge(fut[[ID, DS, *cols]], on=[ID, DS], how="left", indicator=True)
    absent = got["_merge"] == "left_only"
    if absent.any():
        first = got.loc[absent, [ID, DS]].iloc[0]
        raise ValueError(
            f"future_exog misses {int(absent.sum())} of the {len(expected)} future rows, "
            f"e.g. {first[ID]!r} on {first[DS]:%Y-%m-%d}"
        )
    return got.drop(columns="_merge")


def prepare(
    train: pd.DataFrame,
    h: int,
    freq: str,
    future_exog: pd.DataFrame | None,
    holidays: pd.DataFrame | None,
    settings: model.Settings,
) -> model.Problem:
    """Validate inputs and lay them out as a :class:`model.Problem`.

    Raises
    ------
    ValueError
        For any bad input, see :func:`fit_predict`.
    """
    if not isinstance(settings, model.Settings):
        raise TypeError(f"settings must be a forecasting.Settings, got {type(settings).__name__}")
    if not isinstance(h, int | np.integer) or h < 1:
        raise ValueError(f"h must be a positive integer, got {h!r}")
    spec = frames.freq_spec(freq)
    df = frames.validate(train, freq, settings.fill_gaps)
    lags = settings.lags or spec.lags
    windows = settings.windows or spec.windows
    need = max(max(lags), 2 * spec.season) + h
    sizes = df.groupby(ID, sort=False).size()
    short = sizes[sizes < need]
    if len(short):
        raise ValueError(
            f"{len(short)} series are shorter than the {need} periods needed "
            f"(largest lag or two seasons, plus h={h} held out for calibration), e.g. "
            f"{short.index[0]!r} has {int(short.iloc[0])}"
        )
    panel = frames.to_panel(df, spec.alias if spec.alias != "W" else freq)
    cols = frames.exog_columns(df)
    future = _check_future(future_exog, panel.future_dates(h), cols)
    exog = frames.exog_panel(panel, df, future, cols, h)
    if holidays is None and spec.alias == "D":
        holidays = calendar.load_holidays()
    elif holidays is not None:
        holidays = calendar.check_holidays(holidays)
    if settings.offset is not None:
        if settings.offset not in cols:
            raise ValueError(f"settings.offset names column {settings.offset!r}, not in train")
        off = exog[settings.offset]
        if np.any(off[np.isfinite(off)] <= 0):
            raise ValueError(f"offset column {settings.offset!r} must be positive")
    ctx, cal_cols = features.context(panel, h, holidays, exog)
    feats = tuple(c for c in cols if c != settings.offset and c not in settings.exclude)
    layout = features.Layout(tuple(lags), tuple(windows), spec.season, cal_cols, feats)
    return model.Problem(panel, ctx, layout, h, settings.offset)


@dataclass(frozen=True)
class Model:
    """A fitted model that can forecast again under other future exogenous values.

    Attributes
    ----------
    train
        The training frame as passed.
    h, freq, levels, holidays, settings
        As given to :func:`fit`.
    problem, fitted, calibration
        Internal state (see ``forecasting.model``).
    """

    train: pd.DataFrame
    h: int
    freq: str
    levels: tuple[int, ...]
    holidays: pd.DataFrame | None
    settings: model.Settings
    problem: model.Problem
    fitted: model.Fitted
    calibration: model.Calibration


def fit(
    train: pd.DataFrame,
    h: int,
    freq: str = "D",
    future_exog: pd.DataFrame | None = None,
    level: tuple[int, ...] = (80, 95),
    seed: int = 0,
    holidays: pd.DataFrame | None = None,
    settings: model.Settings | None = None,
    calibration_exog: Callable[[pd.DataFrame, int], pd.DataFrame] | None = None,
) -> Model:
    """Fit the global model and calibrate its intervals (see :func:`fit_predict`).

    ``calibration_exog(history, h)`` returns the exogenous values to assume for the ``h``
    periods after ``history`` (``unique_id, ds`` + exogenous columns). Pass the function
    that builds ``future_exog`` when future exogenous values are assumptions rather than
    known plans: the calibration window then forecasts under the same assumptions, so the
    intervals include the error of the assumptions. ``None`` calibrates with the recorded
    values.

    Returns
    -------
    Model
        Pass it to :func:`predict`.

    Raises
    ------
    ValueError
        For bad input, as :func:`fit_predict`.
    """
    settings = model.Settings() if settings is None else settings
    levels = _check_levels(level)
    problem = prepare(train, h, freq, future_exog, holidays, settings)
    cal_problem = problem
    if calibration_exog is not None and frames.exog_columns(train):
        cal_problem = prepare(
            _assumed_holdout(train, h, calibration_exog), h, freq, future_exog, holidays, settings
        )
    cal = model.calibrate(cal_problem, settings, levels, seed)
    fitted = model.fit(problem, problem.panel.length, settings, seed)
    return Model(train, h, freq, levels, holidays, settings, problem, fitted, cal)


def _assumed_holdout(
    train: pd.DataFrame, h: int, calibration_exog: Callable[[pd.DataFrame, int], pd.DataFrame]
) -> pd.DataFrame:
    """``train`` with the exogenous values of its last ``h`` periods replaced by assumptions."""
    df = train.copy()
    df[DS] = pd.to_datetime(df[DS])
    pos = df.groupby(ID, sort=False).cumcount(ascending=False)
    cols = frames.exog_columns(df)
    assumed = calibration_exog(df.loc[pos >= h].reset_index(drop=True), h)
    assumed = assumed.assign(**{DS: pd.to_datetime(assumed[DS])})[[ID, DS, *cols]]
    tail = df.loc[pos < h, [c for c in df.columns if c not in cols]]
    tail = tail.merge(assumed, on=[ID, DS], how="left")
    if tail[cols].isna().all(axis=1).any():
        raise ValueError("calibration_exog did not cover every held-out period")
    return pd.concat([df.loc[pos >= h], tail[df.columns]], ignore_index=True)


def predict(
    m: Model, future_exog: pd.DataFrame | None = None, holidays: pd.DataFrame | None = None
) -> Forecast:
    """Forecast with a fitted model, optionally under other future exogenous values.

    Parameters
    ----------
    m
        From :func:`fit`.
    future_exog
        Replaces the future exogenous frame given to :func:`fit` (what-if scenarios:
        another temperature, a promotion); ``None`` keeps it.
    holidays
        Replaces the holiday calendar for the forecast period; ``None`` keeps it.

    Returns
    -------
    Forecast
        Forecast frame, feature importance and calibration quantiles.

    Raises
    ------
    ValueError
        When the replacement frames are malformed.
    """
    problem = m.problem
    if future_exog is not None or holidays is not None:
        cal = m.holidays if holidays is None else holidays
        problem = prepare(m.train, m.h, m.freq, future_exog, cal, m.settings)
        if future_exog is None and problem.layout.exog:
            raise ValueError("pass future_exog together with holidays for a model with exog")
    pred = model.predict(problem, m.fitted, m.h) * m.calibration.ratio
    y = model.observed(problem.panel)
    spread = model.residual_scale(pred, y, m.fitted.scale, problem.layout.season)
    bounds = model.intervals(pred, spread, m.fitted.scale, m.calibration, m.levels)
    frame = _frame(problem.panel, m.h, pred, bounds)
    return Forecast(frame, model.importance(m.fitted), m.calibration.frame())


def holdout(m: Model) -> pd.DataFrame:
    """The calibration forecasts of the last ``h`` training periods beside the actuals.

    The calibration model never saw those periods, so this is a one-window backtest that
    costs nothing extra; its intervals are not reported (they were calibrated on it).

    Returns
    -------
    pandas.DataFrame
        ``unique_id, ds, yhat, y, censored``.
    """
    panel = m.problem.panel
    h = m.h
    if m.calibration.holdout is None:
        raise ValueError("the model has no calibration hold-out")
    out = pd.DataFrame({ID: np.repeat(panel.ids, h)})
    dates = panel.dates()[:, -h:]
    out[DS] = dates.ravel()
    out["yhat"] = m.calibration.holdout.ravel()
    out["y"] = panel.y[:, -h:].ravel()
    out[CENSORED] = panel.censored[:, -h:].ravel()
    return out.dropna(subset=["y"]).reset_index(drop=True)


def forecast(
    train: pd.DataFrame,
    h: int,
    freq: str = "D",
    future_exog: pd.DataFrame | None = None,
    level: tuple[int, ...] = (80, 95),
    seed: int = 0,
    holidays: pd.DataFrame | None = None,
    settings: model.Settings | None = None,
) -> Forecast:
    """Fit and forecast in one call; parameters are those of :func:`fit_predict`.

    Returns
    -------
    Forecast
        The forecast frame plus feature importance and calibration quantiles.

    Raises
    ------
    ValueError
        For bad input, as :func:`fit_predict`.
    """
    m = fit(train, h, freq, future_exog, level, seed, holidays, settings)
    return predict(m)


def fit_predict(
    train: pd.DataFrame,
    h: int,
    freq: str = "D",
    future_exog: pd.DataFrame | None = None,
    level: tuple[int, ...] = (80, 95),
    seed: int = 0,
    holidays: pd.DataFrame | None = None,
    settings: model.Settings | None = None,
) -> pd.DataFrame:
    """Forecast every series ``h`` periods ahead with conformal prediction intervals.

    Parameters
    ----------
    train
        Long frame ``unique_id, ds, y`` with optional ``censored`` (bool: the day sold out,
        so ``y`` is a lower bound of demand and is neither a training target nor a lag
        value) and optional exogenous columns (numeric, bool or categorical), e.g. ``tmax``,
        ``price``, ``discount``, ``campaign``, ``mentions``.
    h
        Forecast horizon in periods of ``freq``.
    freq
        ``"D"`` (default), ``"W"``/``"W-SUN"``…, ``"MS"``, ``"ME"`` or ``"h"``.
    future_exog
        ``unique_id, ds`` plus every exogenous column of ``train`` for the ``h`` future
        periods of every series; required when ``train`` has exogenous columns.
    level
        Interval levels in percent.
    seed
        Seed of the booster's row/column sampling and of the training-row sample.
    holidays
        Holiday calendar ``date, kind[, holiday]`` (see ``calendar``); ``None`` uses the
        shipped Chinese calendar for daily data; an empty frame switches holidays off.
    settings
        Model settings; ``None`` uses :class:`model.Settings` defaults.

    Returns
    -------
    pandas.DataFrame
        ``unique_id, ds, yhat, yhat_lo_<l>, yhat_hi_<l>`` for each level ``l``; all values
        non-negative, sorted by ``unique_id, ds``.

    Raises
    ------
    ValueError
        On missing columns, duplicate rows, negative or missing sales, date gaps (unless
        ``settings.fill_gaps="zero"``), dates off the frequency grid, an unknown ``freq``,
        series shorter than the largest lag (or two seasons) plus ``h``, bad levels or
        missing future exogenous values.
    """
    return forecast(train, h, freq, future_exog, level, seed, holidays, settings).frame


def baseline_forecasts(
    train: pd.DataFrame,
    h: int,
    freq: str = "D",
    level: tuple[int, ...] = (80, 95),
    fill_gaps: str = "error",
) -> pd.DataFrame:
    """Seasonal-naive, ETS and profile forecasts in the model's format plus a ``model`` column.

    Parameters
    ----------
    train
        Long frame ``unique_id, ds, y`` (other columns ignored).
    h, freq, level
        As in :func:`fit_predict`.
    fill_gaps
        As in ``frames.validate``.

    Returns
    -------
    pandas.DataFrame
        ``model, unique_id, ds, yhat`` and interval columns, one block per baseline.

    Raises
    ------
    ValueError
        On bad input, as :func:`fit_predict`.
    """
    levels = _check_levels(level)
    spec = frames.freq_spec(freq)
    cols = [c for c in (ID, DS, "y", CENSORED) if c in train.columns]
    df = frames.validate(train[cols], freq, fill_gaps)
    panel = frames.to_panel(df, spec.alias if spec.alias != "W" else freq)
    out = []
    # Without a yearly period (e.g. hourly data) the profile has no season factor.
    annual = features.ANNUAL.get(spec.alias, 0) or panel.length + 1
    runs = {
        "seasonal_naive": lambda: baselines.seasonal_naive(panel.y, h, spec.season, levels),
        "ets": lambda: baselines.ets(panel.y, h, spec.season, levels),
        "profile": lambda: baselines.profile(panel.y, h, spec.season, levels, annual),
    }
    for name, run in runs.items():
        pred, bounds = run()
        f = _frame(panel, h, pred, bounds)
        f.insert(0, "model", name)
        out.append(f)
    return pd.concat(out, ignore_index=True)


def _frame(
    panel: frames.Panel, h: int, pred: np.ndarray, bounds: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Long output frame from (n, h) arrays."""
    out = panel.future_dates(h)
    out["yhat"] = pred.ravel()
    for name, arr in bounds.items():
        out[name] = arr.ravel()
    lo_cols = sorted(c for c in bounds if "_lo_" in c)
    for c in lo_cols:  # a bound never crosses the point forecast
        out[c] = np.minimum(out[c], out["yhat"])
        hi = c.replace("_lo_", "_hi_")
        out[hi] = np.maximum(out[hi], out["yhat"])
    return out.sort_values([ID, DS], ignore_index=True)
