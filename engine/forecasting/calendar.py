"""Calendar features: weekday, public holidays, adjusted workdays (调休), distance to holidays.

A holiday calendar is a frame with columns ``date`` (or ``ds``), ``kind`` (``holiday`` for a
statutory day off, ``workday`` for a weekend day worked instead) and optionally ``holiday``
(the holiday's name, e.g. 春节). The default is mainland China's calendar from the maintained
``chinese_calendar`` package (PyPI ``chinesecalendar``), which knows each year once the State
Council has published it. Its frame records the years it covers (``attrs["covers"]``), and
:func:`features` raises :class:`CoverageError` for daily dates outside them instead of treating
an unpublished Spring Festival as an ordinary week. Pass your own calendar (or an empty frame
to switch holidays off) for other countries or years; a calendar you pass is not checked.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import numpy as np
import pandas as pd

CAP = 30  # distances to and from holidays saturate here (days)
# chinese_calendar's short Chinese names -> the names Linli uses (data/world.py FESTIVALS).
NAMES = {"清明": "清明节", "端午": "端午节", "中秋": "中秋节"}


class CoverageError(ValueError):
    """Dates fall outside the years the holiday calendar has been published for."""


def coverage() -> tuple[date, date]:
    """First and last day of the years the installed ``chinese_calendar`` knows.

    Returns
    -------
    tuple of datetime.date
        January 1 of its first year and December 31 of its last.
    """
    years = [d.year for d in chinese_calendar.holidays]
    return date(min(years), 1, 1), date(max(years), 12, 31)


def china_holidays() -> pd.DataFrame:
    """Mainland China's statutory holidays and adjusted workdays, from ``chinese_calendar``.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64), ``kind`` (``holiday`` | ``workday``), ``holiday``
        (the holiday's name for holiday rows: 元旦, 春节, 清明节, 劳动节, 端午节, 中秋节,
        国庆节), sorted by date; ``attrs["covers"]`` holds :func:`coverage`. The next year's
        1 January is included, as the only day of that year certain to be a holiday.
    """
    rows: list[tuple[date, str, str | None]] = []
    for d, value in chinese_calendar.holidays.items():
        name = chinese_calendar.Holiday(value).chinese
        rows.append((d, "holiday", NAMES.get(name, name)))
    rows += [(d, "workday", None) for d in chinese_calendar.workdays]
    # New Year's Day is a day off every year by statute (全国年节及纪念日放假办法), so December's
    # distance to the next holiday is known before the next year's schedule is published.
    rows.append((coverage()[1] + timedelta(days=1), "holiday", "元旦"))
    df = pd.DataFrame(rows, columns=["date", "kind", "holiday"]).sort_values("date")
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[us]")  # as read from a CSV
    out = check_holidays(df)
    out.attrs["covers"] = coverage()
    return out


def load_holidays(path: str | Path | None = None) -> pd.DataFrame:
    """Read a holiday calendar CSV, or return the maintained Chinese calendar.

    Parameters
    ----------
    path
        CSV with ``date, kind[, holiday]``; ``None`` returns :func:`china_holidays`.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64), ``kind``, ``holiday``.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file's columns or kinds are wrong.
    """
    if path is None:
        return china_holidays()
    return check_holidays(pd.read_csv(path))


def check_coverage(dates: pd.DatetimeIndex, holidays: pd.DataFrame | None) -> None:
    """Refuse dates outside the years a calendar is known to cover.

    Parameters
    ----------
    dates
        The days that need holiday flags.
    holidays
        A calendar frame; only one carrying ``attrs["covers"]`` (the default) is checked.

    Raises
    ------
    CoverageError
        When a date lies outside ``attrs["covers"]``.
    """
    covers = None if holidays is None else holidays.attrs.get("covers")
    if covers is None or len(dates) == 0:
        return
    lo, hi = pd.Timestamp(dates.min()).date(), pd.Timestamp(dates.max()).date()
    if lo < covers[0] or hi > covers[1]:
        raise CoverageError(
            f"the holiday calendar covers {covers[0]} to {covers[1]} (chinesecalendar "
            f"{chinese_calendar.__version__}), but dates from {lo} to {hi} need holiday flags. "
            "Upgrade chinesecalendar once the State Council has published the year, or pass "
            "holidays= your own calendar (an empty frame switches holidays off)."
        )


def check_holidays(cal: pd.DataFrame) -> pd.DataFrame:
    """Normalise a holiday frame to ``date, kind, holiday`` or raise ``ValueError``.

    The frame's ``attrs`` (the coverage of the default calendar) are kept.
    """
    out = cal.rename(columns={"ds": "date", "cal_date": "date"}).copy()
    if "date" not in out.columns or "kind" not in out.columns:
        raise ValueError("holidays need columns 'date' and 'kind' (holiday | workday)")
    out["date"] = pd.to_datetime(out["date"]).dt.normalize()
    bad = set(out["kind"]) - {"holiday", "workday"}
    if bad:
        raise ValueError(f"holidays.kind must be 'holiday' or 'workday', got {sorted(bad)}")
    if "holiday" not in out.columns:
        out["holiday"] = out["kind"].map({"holiday": "holiday"})
    res = out[["date", "kind", "holiday"]].reset_index(drop=True)
    res.attrs = dict(cal.attrs)
    return res


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

    Raises
    ------
    CoverageError
        For daily dates outside the coverage of the default calendar (:func:`check_coverage`).
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
    check_coverage(d, holidays)
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
