"""Calendar features: weekday, public holidays, adjusted workdays (调休), distance to holidays.

A holiday calendar is a frame with columns ``date`` (or ``ds``), ``kind`` (``holiday`` for a
statutory day off, ``workday`` for a weekend day worked instead) and optionally ``holiday``
(the holiday's name, e.g. 春节). The default is the mainland China calendar 2024–2026 shipped
in ``data/ref/holidays.csv``. Dates outside the calendar get no holiday flags, so pass your own
calendar (or an empty frame to switch holidays off) for other countries or years.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_PATHS = (Path(__file__).resolve().parents[2] / "data" / "ref" / "holidays.csv",)
CAP = 30  # distances to and from holidays saturate here (days)


def load_holidays(path: str | Path | None = None) -> pd.DataFrame:
    """Read a holiday calendar CSV.

    Parameters
    ----------
    path
        CSV with ``date, kind[, holiday]``; ``None`` reads the shipped Chinese calendar.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64), ``kind``, ``holiday``.

    Raises
    ------
    FileNotFoundError
        When no calendar file exists.
    ValueError
        When the file's columns or kinds are wrong.
    """
    if path is None:
        found = [p for p in DEFAULT_PATHS if p.exists()]
        if not found:
            raise FileNotFoundError(f"no holiday calendar at {DEFAULT_PATHS}")
        path = found[0]
    return check_holidays(pd.read_csv(path))


def check_holidays(cal: pd.DataFrame) -> pd.DataFrame:
    """Normalise a holiday frame to ``date, kind, holiday`` or raise ``ValueError``."""
    out = cal.rename(columns={"ds": "date", "cal_date": "date"}).copy()
    if "date" not in out.columns or "kind" not in out.columns:
        raise ValueError("holidays need columns 'date' and 'kind' (holiday | workday)")
    out["date"] = pd.to_datetime(out["date"]).dt.normalize()
    bad = set(out["kind"]) - {"holiday", "workday"}
    if bad:
        raise ValueError(f"holidays.kind must be 'holiday' or 'workday', got {sorted(bad)}")
    if "holiday" not in out.columns:
        out["holiday"] = out["kind"].map({"holiday": "holiday"})
    return out[["date", "kind", "holiday"]].reset_index(drop=True)


def from_linli_calendar(cal: pd.DataFrame) -> pd.DataFrame:
    """Convert Linli's ``calendar`` table (cal_date, is_holiday, is_workday, holiday)."""
    wk = pd.to_datetime(cal["cal_date"]).dt.day_of_week >= 5
    hol = cal["is_holiday"].astype(bool)
    adj = cal["is_workday"].astype(bool) & wk
    rows = cal.loc[hol | adj, ["cal_date", "holiday"]].copy()
    rows["kind"] = np.where(hol[hol | adj], "holiday", "workday")
    return check_holidays(rows.rename(columns={"cal_date": "date"}))


def features(dates: pd.DatetimeIndex, freq: str, holidays: pd.DataFrame | None) -> pd.DataFrame:
    """Calendar features for distinct dates, one row per date (index = date).

    Daily data get weekday, month, day of year, holiday flag, adjusted-workday flag, day-off
    flag (weekend or holiday, unless adjusted), position inside a holiday block, days to the
    next / since the last holiday block (capped at 30) and a holiday-name code. Weekly data
    get week of year and month, monthly data the month, hourly data hour and weekday.
    """
    d = pd.DatetimeIndex(dates)
    out = pd.DataFrame(index=d)
    if freq == "h":
        out["hour"] = d.hour
        out["dow"] = d.day_of_week
        return out
    if freq == "W":
        out["week"] = d.isocalendar().week.to_numpy().astype(int)
        out["month"] = d.month
        return out
    if freq in ("MS", "ME"):
        out["month"] = d.month
        return out
    out["dow"] = d.day_of_week
    out["month"] = d.month
    out["doy"] = d.day_of_year
    cal = holidays if holidays is not None else pd.DataFrame(columns=["date", "kind", "holiday"])
    hol = cal.loc[cal["kind"] == "holiday"]
    hol_dates = pd.DatetimeIndex(hol["date"]).sort_values()
    work = pd.DatetimeIndex(cal.loc[cal["kind"] == "workday", "date"])
    dn = d.normalize()
    is_hol = dn.isin(hol_dates)
    is_work = dn.isin(work)
    out["is_holiday"] = is_hol.astype(int)
    out["is_adj_workday"] = is_work.astype(int)
    out["is_off"] = (is_hol | ((d.day_of_week >= 5) & ~is_work)).astype(int)
    names = sorted(set(hol["holiday"].dropna().astype(str)))
    code = dict(
        zip(
            hol["date"],
            hol["holiday"].astype(str).map({n: i + 1 for i, n in enumerate(names)}),
            strict=False,
        )
    )
    out["holiday_code"] = [code.get(x, 0) for x in dn]
    starts, ends = _blocks(hol_dates)
    out["days_to_holiday"] = _distance(dn, starts, forward=True)
    # Which holiday is coming matters (mooncakes before 中秋节, not before 国庆节).
    nxt = np.zeros(len(dn), dtype=int)
    if len(starts):
        k = np.searchsorted(starts.to_numpy(), dn.to_numpy(), side="right")
        ok = (k < len(starts)) & (out["days_to_holiday"].to_numpy() < CAP)
        nxt[ok] = [code.get(x, 0) for x in starts[k[ok]]]
    out["next_holiday_code"] = nxt
    out["days_since_holiday"] = _distance(dn, ends, forward=False)
    pos = np.zeros(len(dn), dtype=int)
    if len(starts):
        k = np.searchsorted(starts.to_numpy(), dn.to_numpy(), side="right") - 1
        ok = is_hol & (k >= 0)
        pos[ok] = ((dn[ok] - starts[k[ok]]) / pd.Timedelta(days=1)).astype(int) + 1
    out["holiday_day"] = pos
    return out


def _blocks(days: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """First and last day of each run of consecutive holiday days."""
    if len(days) == 0:
        return days, days
    gap = np.diff(days.to_numpy()).astype("timedelta64[D]").astype(int) > 1
    first = np.r_[True, gap]
    last = np.r_[gap, True]
    return days[first], days[last]


def _distance(d: pd.DatetimeIndex, marks: pd.DatetimeIndex, forward: bool) -> np.ndarray:
    """Days to the next mark after ``d`` (forward) or since the last mark before ``d``."""
    out = np.full(len(d), CAP, dtype=int)
    if len(marks) == 0:
        return out
    m = marks.to_numpy()
    x = d.to_numpy()
    if forward:
        k = np.searchsorted(m, x, side="right")
        ok = k < len(m)
        out[ok] = (m[k[ok]] - x[ok]).astype("timedelta64[D]").astype(int)
    else:
        k = np.searchsorted(m, x, side="left") - 1
        ok = k >= 0
        out[ok] = (x[ok] - m[k[ok]]).astype("timedelta64[D]").astype(int)
    return np.minimum(out, CAP)
