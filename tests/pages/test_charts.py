"""Chart helpers: partial weeks and months are found and visibly marked, in the pages too."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import charts, nav
from dashboard.i18n import t
from tests.pages.conftest import APP


def test_partial_weeks_at_both_ends_of_the_range():
    """Thursday to Tuesday: the first week has 4 of 7 days, the last 2; full weeks are not cut."""
    weeks = pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"])
    parts = charts.partial_periods(weeks, "week", date(2026, 11, 5), date(2026, 11, 24))
    assert parts == [(weeks[0], 4, 7), (weeks[3], 2, 7)]


def test_partial_months_count_their_own_length():
    """February 2026 has 28 days; the 10th to the 31st of March is 22 of 31."""
    months = pd.to_datetime(["2026-02-01", "2026-03-01"])
    parts = charts.partial_periods(months, "month", date(2026, 2, 1), date(2026, 3, 22))
    assert parts == [(months[1], 22, 31)]
    assert charts.partial_periods(months, "month", date(2026, 2, 1), date(2026, 3, 31)) == []


def test_days_are_never_partial():
    """A daily series has nothing to mark."""
    days = pd.date_range("2026-11-01", "2026-11-03")
    assert charts.partial_periods(days, "day", date(2026, 11, 2), date(2026, 11, 2)) == []


def test_mark_partial_shades_notes_and_hatches_the_cut_bar():
    """The cut week gets a shaded band with "n of 7 days" and a hatched bar; the others do not."""
    weeks = pd.to_datetime(["2026-11-09", "2026-11-16", "2026-11-23"])
    fig = charts.bar_line(weeks, [5, 6, 1], [50, 60, 10], names=("a", "b"), colors=("red", "blue"))
    charts.mark_partial(fig, weeks, "week", date(2026, 11, 9), date(2026, 11, 24))
    assert [s.type for s in fig.layout.shapes] == ["rect"]
    assert [a.text for a in fig.layout.annotations] == [t("partial_period", n=2, total=7)]
    assert list(fig.data[0].marker.pattern.shape) == ["", "", "/"]


def _week_range(world) -> tuple[date, date]:
    """From a Thursday three weeks before the last order day to that day."""
    last = world.cursor().execute("SELECT max(order_date) FROM orders").fetchone()[0]
    monday = last - timedelta(days=last.weekday() + 21)
    return monday + timedelta(days=3), last


def _expected_notes(start: date, end: date) -> set[str]:
    notes = {"partial: 4 of 7 days"}  # Thursday to Sunday
    if end.weekday() != 6:
        notes.add(f"partial: {end.weekday() + 1} of 7 days")
    return notes


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.mark.parametrize("stem", ["overview", "segments"])
def test_weekly_trends_mark_their_partial_weeks(app_env, world, stem):
    """The Overview's weekly trend and the Segments' persona trend note each cut week."""
    start, end = _week_range(world)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["flt_dates"] = (start, end)
    at.session_state["ov_grain"] = "week"
    at.run()
    at.switch_page(str(nav.ROOT / "pages" / f"{stem}.py")).run()
    assert not at.exception, [e.value for e in at.exception]
    key = {"overview": "ov_trend", "segments": "sg_trend"}[stem]
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    spec = json.loads(chart.proto.spec)
    notes = {a["text"] for a in spec["layout"].get("annotations", [])}
    assert notes == _expected_notes(start, end)
    assert len(spec["layout"]["shapes"]) == len(notes)
    if stem == "overview":
        bars = next(tr for tr in spec["data"] if tr["type"] == "bar")
        shapes = bars["marker"]["pattern"]["shape"]
        assert shapes[0] == "/" and shapes[1] == ""
