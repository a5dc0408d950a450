"""Checking long frames (``unique_id, ds, y`` + exogenous) and laying them out as a panel.

The panel is *right-aligned*: row ``i`` holds series ``i`` with its last observation in the
last column, earlier columns padded with NaN when the series is shorter than the longest one.
Forecast step ``k`` of every series then lives in column ``T + k - 1`` whatever the series'
own end date, which keeps the recursive forecast and the feature code vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ID, DS, Y, CENSORED = "unique_id", "ds", "y", "censored"
RESERVED = (ID, DS, Y, CENSORED)


@dataclass(frozen=True)
class FreqSpec:
    """What a frequency implies: season length, default lags and rolling windows."""

    alias: str
    season: int
    lags: tuple[int, ...]
    windows: tuple[int, ...]


# Frequencies the model knows how to build lags and calendar features for.
_FREQS = {
    "D": FreqSpec("D", 7, (1, 2, 3, 4, 5, 6, 7, 14, 21, 28), (7, 14, 28)),
    "W": FreqSpec("W", 52, (1, 2, 3, 4, 8, 13, 26, 52), (4, 13)),
    "MS": FreqSpec("MS", 12, (1, 2, 3, 6, 12), (3, 12)),
    "ME": FreqSpec("ME", 12, (1, 2, 3, 6, 12), (3, 12)),
    "h": FreqSpec("h", 24, (1, 2, 3, 24, 48, 168), (24, 168)),
}


def freq_spec(freq: str) -> FreqSpec:
    """Return the :class:`FreqSpec` of a pandas frequency alias.

    Parameters
    ----------
    freq
        ``"D"``, ``"W"`` (or an anchored ``"W-SUN"`` …), ``"MS"``, ``"ME"`` (``"M"``) or ``"h"``.

    Returns
    -------
    FreqSpec
        Season length, lags and windows for that frequency.

    Raises
    ------
    ValueError
        For any other frequency.
    """
    if not isinstance(freq, str):
        raise ValueError(f"freq must be a string such as 'D', got {freq!r}")
    key = freq.strip()
    if key.upper().startswith("W"):
        key = "W"
    key = {"M": "ME", "H": "h", "d": "D"}.get(key, key)
    if key not in _FREQS:
        known = ", ".join(["D", "W", "W-SUN", "MS", "ME", "h"])
        raise ValueError(f"unknown freq {freq!r}; supported: {known}")
    return _FREQS[key]


def validate(
    df: pd.DataFrame, freq: str, fill_gaps: str = "error", name: str = "train"
) -> pd.DataFrame:
    """Check a long frame and return a clean copy sorted by ``unique_id, ds``.

    Parameters
    ----------
    df
        Columns ``unique_id, ds, y``, optionally ``censored`` (bool) and exogenous columns.
    freq
        Pandas frequency alias, see :func:`freq_spec`.
    fill_gaps
        ``"error"`` (default) raises on missing dates inside a series; ``"zero"`` inserts the
        missing dates with ``y = 0`` (no sale recorded means nothing sold) and forward-fills
        exogenous columns.
    name
        Name of the argument, used in error messages.

    Returns
    -------
    pandas.DataFrame
        Sorted copy with ``ds`` as datetime64 and ``censored`` as bool.

    Raises
    ------
    ValueError
        On missing columns, an empty frame, unparsable dates, duplicate ``(unique_id, ds)``
        rows, missing/negative/infinite ``y``, dates off the ``freq`` grid, or gaps when
        ``fill_gaps="error"``.
    """
    freq_spec(freq)
    if fill_gaps not in ("error", "zero"):
        raise ValueError(f"fill_gaps must be 'error' or 'zero', got {fill_gaps!r}")
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in (ID, DS, Y) if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; expected unique_id, ds, y")
    if df.empty:
        raise ValueError(f"{name} is empty")
    out = df.copy()
    try:
        out[DS] = pd.to_datetime(out[DS])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}.ds cannot be read as dates: {exc}") from None
    if out[DS].isna().any():
        raise ValueError(f"{name}.ds has missing dates")
    y = pd.to_numeric(out[Y], errors="coerce").astype(float)
    if y.isna().any() or not np.isfinite(y.to_numpy()).all():
        bad = out.loc[y.isna() | ~np.isfinite(y.fillna(0)), [ID, DS]].head(3)
        raise ValueError(f"{name}.y must be finite numbers; first bad rows:\n{bad}")
    if (y < 0).any():
        bad = out.loc[y < 0, [ID, DS, Y]].head(3)
        raise ValueError(f"{name}.y has negative sales (returns must be netted out):\n{bad}")
    out[Y] = y
    if CENSORED in out.columns:
        if out[CENSORED].isna().any():
            raise ValueError(f"{name}.censored has missing values; use True/False")
        out[CENSORED] = out[CENSORED].astype(bool)
    else:
        out[CENSORED] = False
    dup = out.duplicated([ID, DS], keep=False)
    if dup.any():
        bad = out.loc[dup, [ID, DS]].head(4)
        raise ValueError(f"{name} has duplicate (unique_id, ds) rows:\n{bad}")
    out = out.sort_values([ID, DS], kind="stable").reset_index(drop=True)
    return _check_grid(out, freq, fill_gaps, name)


def _check_grid(df: pd.DataFrame, freq: str, fill_gaps: str, name: str) -> pd.DataFrame:
    """Verify each series sits on the ``freq`` grid without gaps (or fill them)."""
    parts = []
    gaps = []
    for uid, g in df.groupby(ID, sort=False):
        grid = pd.date_range(g[DS].iloc[0], g[DS].iloc[-1], freq=freq)
        if len(grid) == 0 or grid[0] != g[DS].iloc[0] or not g[DS].isin(grid).all():
            raise ValueError(
                f"{name}: dates of series {uid!r} are not on the {freq!r} grid "
                f"(e.g. {g[DS].iloc[0]:%Y-%m-%d}); resample first"
            )
        if len(grid) != len(g):
            gaps.append((uid, grid.difference(g[DS])))
            if fill_gaps == "zero":
                full = g.set_index(DS).reindex(grid)
                full.index.name = DS
                full[ID] = uid
                full[Y] = full[Y].fillna(0.0)
                full[CENSORED] = full[CENSORED].fillna(False).astype(bool)
                g = full.ffill().reset_index()[list(g.columns)]
        parts.append(g)
    if gaps and fill_gaps == "error":
        uid, missing = gaps[0]
        raise ValueError(
            f"{name}: {len(gaps)} series have date gaps, e.g. {uid!r} misses "
            f"{missing[0]:%Y-%m-%d} ({len(missing)} dates); pass fill_gaps='zero' to treat "
            "missing dates as zero sales"
        )
    return pd.concat(parts, ignore_index=True) if gaps else df


def exog_columns(df: pd.DataFrame) -> list[str]:
    """Return the exogenous columns of a long frame (everything but the reserved ones)."""
    return [c for c in df.columns if c not in RESERVED]


@dataclass(frozen=True)
class Panel:
    """A right-aligned panel of series (see module docstring)."""

    ids: np.ndarray  # (n,) unique_id values
    y: np.ndarray  # (n, T) observed sales, NaN before a series starts
    censored: np.ndarray  # (n, T) bool
    start: np.ndarray  # (n,) first valid column per series
    end: pd.DatetimeIndex  # (n,) last date per series
    freq: str

    @property
    def length(self) -> int:
        """Number of columns T."""
        return self.y.shape[1]

    def future_dates(self, h: int) -> pd.DataFrame:
        """Long frame ``unique_id, ds`` of the ``h`` dates after each series' end."""
        offset = pd.tseries.frequencies.to_offset(self.freq)
        rows = [pd.date_range(e + offset, periods=h, freq=self.freq) for e in self.end]
        return pd.DataFrame({ID: np.repeat(self.ids, h), DS: np.concatenate(rows)})

    def dates(self, extra: int = 0) -> np.ndarray:
        """Matrix (n, T + extra) of datetime64 dates for every cell."""
        offset = pd.tseries.frequencies.to_offset(self.freq)
        n, t = self.y.shape
        out = np.empty((n, t + extra), dtype="datetime64[ns]")
        # Most series share their end date: build each distinct date row once.
        for e in self.end.unique():
            first = e - offset * (t - 1)
            out[self.end == e] = pd.date_range(first, periods=t + extra, freq=self.freq)
        return out


def to_panel(df: pd.DataFrame, freq: str) -> Panel:
    """Lay a validated long frame out as a right-aligned :class:`Panel`."""
    sizes = df.groupby(ID, sort=False).size()
    ids = sizes.index.to_numpy()
    n, t = len(ids), int(sizes.max())
    row = np.repeat(np.arange(n), sizes.to_numpy())
    pos_from_end = df.groupby(ID, sort=False).cumcount(ascending=False).to_numpy()
    col = t - 1 - pos_from_end
    y = np.full((n, t), np.nan)
    cens = np.zeros((n, t), dtype=bool)
    y[row, col] = df[Y].to_numpy(dtype=float)
    cens[row, col] = df[CENSORED].to_numpy(dtype=bool)
    end = pd.DatetimeIndex(df.groupby(ID, sort=False)[DS].max().to_numpy())
    return Panel(ids, y, cens, t - sizes.to_numpy(), end, freq)


def exog_panel(
    panel: Panel, train: pd.DataFrame, future: pd.DataFrame | None, cols: list[str], h: int
) -> dict[str, np.ndarray]:
    """Right-aligned exogenous matrices (n, T + h) from the training and future frames.

    Non-numeric columns (e.g. a category name) are encoded as integer codes shared by both
    frames.
    """
    if not cols:
        return {}
    n, t = panel.y.shape
    index = {uid: i for i, uid in enumerate(panel.ids)}
    frames = [train[[ID, DS, *cols]]]
    if future is not None and h > 0:
        frames.append(future[[ID, DS, *cols]])
    both = pd.concat(frames, ignore_index=True)
    row = both[ID].map(index).to_numpy()
    offset = pd.tseries.frequencies.to_offset(panel.freq)
    first = pd.DatetimeIndex(panel.end[row]) - offset * (t - 1)
    col = _steps_between(first, pd.DatetimeIndex(both[DS]), panel.freq)
    out = {}
    for c in cols:
        values = both[c]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            values = pd.Series(pd.factorize(values.astype(str), sort=True)[0], dtype=float)
            values[both[c].isna().to_numpy()] = np.nan
        m = np.full((n, t + h), np.nan)
        m[row, col] = values.to_numpy(dtype=float)
        out[c] = m
    return out


def _steps_between(a: pd.DatetimeIndex, b: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Whole ``freq`` steps from ``a`` to ``b`` (element-wise)."""
    spec = freq_spec(freq)
    if spec.alias == "D":
        return ((b - a) / pd.Timedelta(days=1)).to_numpy().round().astype(int)
    if spec.alias == "h":
        return ((b - a) / pd.Timedelta(hours=1)).to_numpy().round().astype(int)
    if spec.alias == "W":
        return ((b - a) / pd.Timedelta(days=7)).to_numpy().round().astype(int)
    return ((b.year - a.year) * 12 + (b.month - a.month)).to_numpy().astype(int)
