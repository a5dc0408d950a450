"""The world's clock: its time zone, its "today" (the as-of date) and the next delivery day.

Every timestamp in the schema is naive wall time in :data:`TZ`. A data set's "today" is the
``as_of`` meta entry written by the after-load step (the last order day); a database without
it falls back to its last order date. Each of these is resolved here and nowhere else.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from engine import db as dbmod

TZ = ZoneInfo("Asia/Shanghai")  # the platform's wall time (Changsha); the schema stores it naive


class NoDataError(ValueError):
    """The database holds no orders yet, so it has no "today"."""


def local_now() -> datetime:
    """Return the current wall-clock time in :data:`TZ` as a naive timestamp (the schema's zone).

    Returns
    -------
    datetime
        Naive local time, microseconds kept.
    """
    return datetime.now(TZ).replace(tzinfo=None)


def order_span(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """Return the first and last order dates, or ``None`` for a database without orders.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    tuple of date, or None
        ``(first, last)`` order dates.
    """
    lo, hi = con.execute("SELECT min(order_date), max(order_date) FROM orders").fetchall()[0]
    return None if lo is None else (lo, hi)


def as_of(con: duckdb.DuckDBPyConnection, when: date | None = None) -> date:
    """Return ``when`` or the data set's "today": meta ``as_of``, else the last order date.

    Parameters
    ----------
    con
        An open connection.
    when
        An explicit date, returned as it is (checked to be a date).

    Returns
    -------
    date
        The as-of date.

    Raises
    ------
    ValueError
        When ``when`` is not a date.
    NoDataError
        When the database has neither an ``as_of`` entry nor any order.
    """
    if when is not None:
        if not isinstance(when, date):
            raise ValueError(f"as_of must be a date, got {when!r}")
        return when.date() if isinstance(when, datetime) else when
    value = dbmod.get_meta(con, "as_of")
    if value:
        return date.fromisoformat(value)
    span = order_span(con)
    if span is None:
        raise NoDataError(
            "the database holds no orders yet: load orders (数据管理, the data page, or a SQL "
            "sync) or pass a date"
        )
    return span[1]


def world_today(con: duckdb.DuckDBPyConnection) -> date:
    """Return :func:`as_of`, or the calendar date in :data:`TZ` for a database without orders.

    For the pages, which must open (and say why they are empty) on a new database.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    date
        The as-of date, else today's date in the platform's time zone.
    """
    try:
        return as_of(con)
    except NoDataError:
        return local_now().date()


def next_delivery_day(con: duckdb.DuckDBPyConnection) -> date:
    """Return the day after :func:`as_of`: when today's orders reach the pickup points.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    date
        ``as_of + 1 day``.

    Raises
    ------
    NoDataError
        When the database has no as-of date and no orders.
    """
    return as_of(con) + timedelta(days=1)


def hhmm(minutes: float) -> str:
    """Format minutes after midnight as ``HH:MM`` (rounded to the minute).

    Parameters
    ----------
    minutes
        Minutes after midnight (may exceed 24 h for a late return).

    Returns
    -------
    str
        For example ``"07:05"`` for 425.
    """
    m = round(float(minutes))
    return f"{m // 60:02d}:{m % 60:02d}"
