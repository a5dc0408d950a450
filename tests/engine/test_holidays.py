"""The holiday calendar: the published schedule, and a loud refusal beyond its coverage."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from data import generate
from data import world as world_mod
from engine.forecasting import calendar, demand, pipeline


def _days(cal: pd.DataFrame, kind: str, year: int) -> dict[str, list[str]]:
    rows = cal.loc[(cal["kind"] == kind) & (cal["date"].dt.year == year)]
    out: dict[str, list[str]] = {}
    for d, name in zip(rows["date"], rows["holiday"], strict=True):
        out.setdefault(str(name) if kind == "holiday" else "", []).append(d.strftime("%m-%d"))
    return out


def test_2026_matches_the_state_council_notice():
    """2026 holidays and adjusted workdays are those the State Council published in 2025."""
    cal = calendar.load_holidays()
    hol = _days(cal, "holiday", 2026)
    assert hol["元旦"] == ["01-01", "01-02", "01-03"]
    assert hol["春节"] == [f"02-{d}" for d in range(15, 24)]
    assert hol["清明节"] == ["04-04", "04-05", "04-06"]
    assert hol["劳动节"] == ["05-01", "05-02", "05-03", "05-04", "05-05"]
    assert hol["端午节"] == ["06-19", "06-20", "06-21"]
    assert hol["中秋节"] == ["09-25", "09-26", "09-27"]
    assert hol["国庆节"] == [f"10-0{d}" for d in range(1, 8)]
    assert _days(cal, "workday", 2026)[""] == ["01-04", "02-14", "02-28", "05-09", "09-20", "10-10"]


def test_coverage_is_whole_published_years():
    """The calendar covers January 1 of its first year to December 31 of its last."""
    first, last = calendar.coverage()
    assert first.timetuple()[1:3] == (1, 1) and last.timetuple()[1:3] == (12, 31)
    assert first.year <= 2024 and last.year >= 2026
    assert calendar.load_holidays().attrs["covers"] == (first, last)


def test_features_beyond_coverage_raise():
    """Daily features past the last published year raise CoverageError naming the dates."""
    _, last = calendar.coverage()
    days = pd.date_range(last - pd.Timedelta(days=5), periods=10)
    with pytest.raises(calendar.CoverageError, match=r"upgrade chinesecalendar|Upgrade"):
        calendar.features(days, "D", calendar.load_holidays())
    inside = calendar.features(days[:6], "D", calendar.load_holidays())
    assert len(inside) == 6
    # New Year's Day is statutory, so December already counts down to it.
    assert inside["days_to_holiday"].iloc[-1] == 1


def test_own_or_empty_calendar_is_not_checked():
    """A calendar passed in (or an empty one, holidays off) is the caller's responsibility."""
    days = pd.date_range(date(calendar.coverage()[1].year + 2, 1, 1), periods=5)
    empty = pd.DataFrame(columns=["date", "kind", "holiday"])
    assert calendar.features(days, "D", calendar.check_holidays(empty))["is_holiday"].sum() == 0
    own = pd.DataFrame({"date": [days[1]], "kind": ["holiday"], "holiday": ["元旦"]})
    assert calendar.features(days, "D", calendar.check_holidays(own))["is_holiday"].sum() == 1


def test_forecast_into_an_unpublished_year_raises():
    """A daily forecast whose horizon leaves the calendar is refused, not silently wrong."""
    _, last = calendar.coverage()
    ds = pd.date_range(end=last - pd.Timedelta(days=3), periods=120)
    train = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [float(i % 7) for i in range(120)]})
    with pytest.raises(calendar.CoverageError):
        pipeline.forecast(train, 14)


def test_generator_refuses_a_world_past_the_calendar():
    """The generator needs the holidays 20 days past its last day, and says so."""
    _, last = calendar.coverage()
    with pytest.raises(calendar.CoverageError, match="20 days"):
        generate.generate(":memory:", scale="small", end=last)
    world_mod.check_calendar(date(2026, 1, 1), world_mod.DEFAULT_END)


def test_database_calendar_extends_the_coverage(world):
    """demand.holidays covers both the database's calendar table and the published years."""
    hol = demand.holidays(world.cursor())
    lo, hi = world.execute("SELECT min(cal_date), max(cal_date) FROM calendar").fetchone()
    first, last = hol.attrs["covers"]
    assert first <= lo and last >= hi and last >= calendar.coverage()[1]
