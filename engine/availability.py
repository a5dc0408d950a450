"""Which features the loaded data support, and the health of every input table.

An operator's database may hold only the core tables (regions … order items). Each feature
that reads another table is listed once in :data:`FEATURES` with the tables it needs; a page
asks :func:`missing` before it draws the feature and shows one line naming the empty tables
instead of a traceback, and an engine entry point raises :class:`MissingDataError` (a
``ValueError``) with the same facts. :func:`health` is the 数据管理 view of the same registry:
per input table its rows, dates covered, last load, quarantined rows and the features that
are unavailable for lack of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

# The tables every Linli database is expected to have rows in (docs/data-import.md).
CORE_TABLES = (
    "regions",
    "warehouses",
    "pickup_points",
    "leaders",
    "communities",
    "users",
    "suppliers",
    "skus",
    "orders",
    "order_items",
)
# Optional input tables an engine reads; empty ones switch features off, never crash a page.
OPTIONAL_TABLES = (
    "vehicles",
    "campaigns",
    "inventory",
    "browse_events",
    "chat_activity",
    "topics",
    "weather",
    "feedback",
    "devices",
    "service_areas",
)
INPUT_TABLES = CORE_TABLES + OPTIONAL_TABLES

# The date column that says which days a table covers (rows without one have no coverage).
DATE_COLUMNS = {
    "communities": "opened",
    "leaders": "joined",
    "skus": "launched",
    "users": "signup_date",
    "orders": "order_date",
    "campaigns": "sale_date",
    "inventory": "stock_date",
    "browse_events": "event_date",
    "chat_activity": "activity_date",
    "topics": "topic_date",
    "weather": "weather_date",
    "feedback": "feedback_date",
    "telemetry": "ts",
}

_ITEM_SPAN = (
    "SELECT count(*), min(o.order_date), max(o.order_date) "
    "FROM order_items i LEFT JOIN orders o USING (order_id)"
)

# Feature → the input tables it reads beyond the core ones. The keys double as i18n keys
# (``avail_f_<feature>``) for the one-line reason the pages show.
FEATURES: dict[str, tuple[str, ...]] = {
    "kpi_group_success_rate": ("campaigns",),
    "kpi_inventory_turnover_days": ("inventory",),
    "kpi_loss_rate": ("inventory",),
    "kpi_nps": ("feedback",),
    "pricing": ("campaigns",),
    "plan": ("campaigns",),
    "forecast_listings": ("campaigns",),
    "forecast_weather": ("weather",),
    "forecast_topics": ("topics",),
    "purchasing_stock": ("inventory",),
    "koc": ("chat_activity",),
    "rule_signals": ("browse_events", "inventory", "topics"),
    "dispatch": ("vehicles",),
    "coldchain": ("devices",),
}


class MissingDataError(ValueError):
    """A feature cannot run because input tables it needs are empty.

    Attributes
    ----------
    feature
        Key of :data:`FEATURES`.
    tables
        The empty tables, in registry order.
    """

    def __init__(self, feature: str, tables: Sequence[str]) -> None:
        self.feature = feature
        self.tables = tuple(tables)
        super().__init__(
            f"{feature} needs rows in {', '.join(self.tables)}: load "
            f"{', '.join(t + '.csv' for t in self.tables)} (数据管理, or python -m connectors.load)"
        )


@dataclass(frozen=True)
class Gap:
    """A feature switched off, and the empty tables that switched it off."""

    feature: str
    tables: tuple[str, ...]


def _check(feature: str) -> tuple[str, ...]:
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; known: {', '.join(sorted(FEATURES))}")
    return FEATURES[feature]


def empty_tables(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> tuple[str, ...]:
    """Return those of ``tables`` that hold no row (or do not exist).

    Parameters
    ----------
    con
        An open connection.
    tables
        Table names; only names of :data:`INPUT_TABLES` or the schema catalogue are queried.

    Returns
    -------
    tuple of str
        The empty ones, in the given order.
    """
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    out = []
    for name in tables:
        # The name comes from the catalogue just read, never from a user.
        if name not in present or not con.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchall():
            out.append(name)
    return tuple(out)


def missing(con: duckdb.DuckDBPyConnection, feature: str) -> tuple[str, ...]:
    """Return the empty tables a feature needs (empty when the feature can run).

    Parameters
    ----------
    con
        An open connection.
    feature
        Key of :data:`FEATURES`.

    Returns
    -------
    tuple of str
        Empty tables the feature reads.

    Raises
    ------
    ValueError
        For an unknown feature.
    """
    return empty_tables(con, _check(feature))


def require(con: duckdb.DuckDBPyConnection, feature: str) -> None:
    """Raise :class:`MissingDataError` when a table the feature needs is empty.

    Parameters
    ----------
    con
        An open connection.
    feature
        Key of :data:`FEATURES`.

    Raises
    ------
    MissingDataError
        Naming the feature and its empty tables.
    """
    gone = missing(con, feature)
    if gone:
        raise MissingDataError(feature, gone)


def gaps(con: duckdb.DuckDBPyConnection) -> list[Gap]:
    """Every feature the data do not support, with the empty tables behind it.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    list of Gap
        In :data:`FEATURES` order; empty for a complete database.
    """
    needed = sorted({t for ts in FEATURES.values() for t in ts})
    empty = set(empty_tables(con, needed))
    return [
        Gap(f, tuple(t for t in ts if t in empty))
        for f, ts in FEATURES.items()
        if any(t in empty for t in ts)
    ]


def health(con: duckdb.DuckDBPyConnection, tables: Sequence[str] = INPUT_TABLES) -> pd.DataFrame:
    """Per input table: rows, dates covered, last load, quarantined rows, features it blocks.

    Parameters
    ----------
    con
        An open connection.
    tables
        The input tables to report (the loader's registry; default :data:`INPUT_TABLES`).

    Returns
    -------
    pandas.DataFrame
        ``table, rows, first_date, last_date, last_load, quarantined, core, unavailable``;
        ``unavailable`` lists the features off because the table is empty (``""`` otherwise),
        dates are ``NaT``/``None`` for tables without a date column or rows.
    """
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    loads = dict(
        con.execute(
            "SELECT target_table, max(imported_at) FROM import_log WHERE rows_loaded > 0 GROUP BY 1"
        ).fetchall()
    )
    quarantined = dict(
        con.execute("SELECT target_table, count(*) FROM import_quarantine GROUP BY 1").fetchall()
    )
    out = []
    for name in tables:
        rows, first, last = 0, None, None
        if name == "order_items":  # order lines cover the days of their orders
            rows, first, last = con.execute(_ITEM_SPAN).fetchall()[0]
        elif name in present:
            # Names come from the catalogue and the fixed DATE_COLUMNS map, never from users.
            col = DATE_COLUMNS.get(name)
            span = f', min("{col}")::DATE, max("{col}")::DATE' if col else ", NULL, NULL"
            rows, first, last = con.execute(f'SELECT count(*){span} FROM "{name}"').fetchall()[0]
        blocked = [f for f, ts in FEATURES.items() if name in ts] if rows == 0 else []
        out.append(
            (
                name,
                int(rows),
                first,
                last,
                loads.get(name),
                int(quarantined.get(name, 0)),
                name in CORE_TABLES,
                ", ".join(blocked),
            )
        )
    return pd.DataFrame(
        out,
        columns=[
            "table",
            "rows",
            "first_date",
            "last_date",
            "last_load",
            "quarantined",
            "core",
            "unavailable",
        ],
    )
