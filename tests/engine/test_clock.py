"""The world's clock (engine.clock): as-of date and its fallbacks, next delivery day, HH:MM."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from engine import clock, db
from tests.connectors.conftest import seed


@pytest.fixture
def con():
    """A fresh database with reference rows and no orders."""
    c = db.connect(":memory:")
    seed(c)
    yield c
    c.close()


def _order(con, order_id: int, day: date) -> None:
    con.execute(
        "INSERT INTO orders (order_id, user_id, community_id, pickup_id, order_date, created_at, "
        "promised_by, status) VALUES (?, 1, 1, 11, ?, ?, ?, 'paid')",
        [order_id, day, datetime.combine(day, datetime.min.time()), day + timedelta(days=1)],
    )


def test_as_of_prefers_meta_then_last_order_day(con):
    """meta as_of wins; without it the last order date; with neither a NoDataError."""
    with pytest.raises(clock.NoDataError, match="no orders"):
        clock.as_of(con)
    assert clock.order_span(con) is None
    _order(con, 1, date(2026, 3, 1))
    _order(con, 2, date(2026, 3, 4))
    assert clock.order_span(con) == (date(2026, 3, 1), date(2026, 3, 4))
    assert clock.as_of(con) == date(2026, 3, 4)
    db.set_meta(con, "as_of", "2026-03-02")
    assert clock.as_of(con) == date(2026, 3, 2)
    assert clock.next_delivery_day(con) == date(2026, 3, 3)


def test_explicit_date_is_returned_and_checked(con):
    """A given date is returned (a datetime as its date); anything else is refused."""
    assert clock.as_of(con, date(2025, 1, 5)) == date(2025, 1, 5)
    assert clock.as_of(con, datetime(2025, 1, 5, 13, 30)) == date(2025, 1, 5)
    with pytest.raises(ValueError, match="must be a date"):
        clock.as_of(con, "2025-01-05")  # type: ignore[arg-type]


def test_world_today_falls_back_to_the_calendar(con):
    """Pages open on an empty database on today's date in the platform's time zone."""
    assert clock.world_today(con) == clock.local_now().date()
    _order(con, 1, date(2026, 3, 1))
    assert clock.world_today(con) == date(2026, 3, 1)


def test_next_delivery_day_needs_data(con):
    """Routing has no tomorrow without a today."""
    with pytest.raises(clock.NoDataError):
        clock.next_delivery_day(con)


def test_generated_world_today(world):
    """The generated world's today is its last order day, and tomorrow the day after."""
    cur = world.cursor()
    last = clock.order_span(cur)[1]
    assert clock.as_of(cur) == last == clock.world_today(cur)
    assert clock.next_delivery_day(cur) == last + timedelta(days=1)


@pytest.mark.parametrize(("minutes", "text"), [(0, "00:00"), (425, "07:05"), (1499.6, "25:00")])
def test_hhmm(minutes, text):
    """Minutes after midnight read as HH:MM, rounded, past 24 h for a late return."""
    assert clock.hhmm(minutes) == text
