"""The one step after data land: derived tables rebuilt, "today" moved, version bumped, audited.

Every path that writes rows runs it: a file import (数据管理), the command line
(``python -m connectors.load``), a sync from an operational database and the demo-world
generator. Without it the KPIs would read stale rollups and cached pages would keep the old
rows.

A daily load is incremental: when the new rows belong to tables whose rows change only the
rollup rows of their own days (orders, lines, listings, stock, feedback), or to tables the
rollups cannot see yet (new parents have no earlier facts), only the days between the first
and last day touched are recomputed, with the rollups' own SQL. Anything else (a leader, whose
commission rate applies to the community's earlier sales) rebuilds every rollup.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import duckdb

from engine import audit, clock, kpis
from engine import db as dbmod
from engine.segmentation import features

# New rows of these tables change the rollup rows of their own days only.
DAILY = frozenset({"orders", "order_items", "campaigns", "inventory", "feedback"})
# New rows of these tables change no existing rollup row: the rollups do not read them, or
# every fact joining a new parent row must come after it (the importer checks references).
UNSEEN = frozenset(
    {
        "regions", "warehouses", "suppliers", "communities", "pickup_points", "vehicles",
        "users", "skus", "inventory_lots", "browse_events", "chat_activity", "topics",
        "weather", "calendar", "devices",
    }
)  # fmt: skip
# Rollups keyed by something coarser than the day (their key column, its truncation).
_COARSE = {"rollup_buyer_weeks": ("day", "week"), "rollup_buyer_months": ("month", "month")}
# Rollups over the whole history (derived from other rollups or from the last order day).
_WHOLE = ("rollup_buyer_bits", "rollup_repurchase")


def incremental(tables: Iterable[str]) -> bool:
    """Whether new rows of ``tables`` can be folded in by refreshing their days only."""
    names = set(tables)
    return bool(names) and names <= DAILY | UNSEEN


def refresh_days(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Recompute every rollup row of the days ``first``..``last`` (and the weeks and months
    holding them), and the whole-history rollups, in one transaction.

    Parameters
    ----------
    con
        A writable connection whose rollups are current except for those days.
    first, last
        The first and last day touched by the load.

    Raises
    ------
    ValueError
        When ``last`` is before ``first``.
    """
    if last < first:
        raise ValueError(f"the last day {last} is before the first {first}")
    daily = {**kpis.ROLLUPS, features.ROLLUP: features.ROLLUP_SQL}
    home = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute("BEGIN TRANSACTION")
    try:
        for name, sql in daily.items():
            if name in _WHOLE:
                continue
            col, unit = _COARSE.get(name, ("day", "day"))
            lo = con.execute(f"SELECT date_trunc('{unit}', ?::DATE)::DATE", [first]).fetchall()
            _narrow(con, home, lo[0][0], last)
            # Names and SQL are the rollups' own constants; the days are bound.
            span = f"{col} BETWEEN ?::DATE AND ?::DATE"
            con.execute(f"DELETE FROM {name} WHERE {span}", [lo[0][0], last])
            # Sorted as a full rebuild sorts (date filters keep skipping row groups).
            con.execute(
                f"INSERT INTO {name} SELECT * FROM ({sql}) WHERE {span} "
                f"ORDER BY {kpis.ORDER_BY.get(name, col)}",
                [lo[0][0], last],
            )
        con.execute("DROP VIEW IF EXISTS temp.main.order_items")
        con.execute("DROP VIEW IF EXISTS temp.main.orders")
        for name in _WHOLE:
            order = kpis.ORDER_BY.get(name, "day")
            sql = kpis.ROLLUPS[name]
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM ({sql}) ORDER BY {order}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP VIEW IF EXISTS temp.main.order_items")
        con.execute("DROP VIEW IF EXISTS temp.main.orders")


def _narrow(con: duckdb.DuckDBPyConnection, home: str, lo: date, hi: date) -> None:
    """Shadow ``orders`` and ``order_items`` with temporary views of the orders of ``lo``..``hi``
    (temporary names come first), so a rollup's SQL aggregates those days only: the per-user
    rollup groups lines by order before it joins the orders, and no filter on the day could
    reach inside that aggregate."""
    db = '"' + home.replace('"', '""') + '"'  # the database's own name, from DuckDB
    # Dates are date objects, not user text; a view takes no parameters.
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW orders AS SELECT * FROM {db}.main.orders "
        f"WHERE order_date BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}'"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW order_items AS SELECT * FROM {db}.main.order_items "
        "WHERE order_id IN (SELECT order_id FROM temp.main.orders)"
    )


def _has_rollups(con: duckdb.DuckDBPyConnection) -> bool:
    names = [*kpis.ROLLUPS, features.ROLLUP]
    n = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND list_contains(?::VARCHAR[], table_name)",
        [names],
    ).fetchone()
    return n is not None and n[0] == len(names)


def rebuild(
    con: duckdb.DuckDBPyConnection,
    days: Iterable[date] | None = None,
    tables: Iterable[str] | None = None,
) -> date | None:
    """Rebuild the rollups (or refresh the days touched) and set meta ``as_of`` to the last
    order day.

    Parameters
    ----------
    con
        A writable connection.
    days, tables
        The days the new rows count for and the tables that received them; when both are
        given, the rollups exist and :func:`incremental` allows it, only those days are
        refreshed. Default: rebuild everything.

    Returns
    -------
    date or None
        The new as-of date, or ``None`` for a database without orders (``as_of`` untouched).
    """
    touched = sorted(set(days or ()))
    if tables is not None and incremental(tables) and _has_rollups(con):
        if touched:
            refresh_days(con, touched[0], touched[-1])
    else:
        kpis.refresh_rollups(con)
        features.refresh_rollup(con)
    span = clock.order_span(con)
    if span is None:
        return None
    dbmod.set_meta(con, "as_of", span[1].isoformat())
    return span[1]


def run(
    con: duckdb.DuckDBPyConnection,
    *,
    load_id: str,
    source: str,
    loaded: int,
    rejected: int = 0,
    username: str | None = None,
    now: datetime | None = None,
    days: Iterable[date] | None = None,
    tables: Iterable[str] | None = None,
    lake: str | Path | None = None,
) -> None:
    """Finish a load that wrote: rebuild and bump the data version when rows were loaded; audit.

    Parameters
    ----------
    con
        A writable connection.
    load_id
        Id of the load (the import id); it becomes the ``data_version``, so caches keyed by
        :func:`engine.dataset.version` see the new rows.
    source
        File name or sync source (``sql:<name>``).
    loaded, rejected
        Rows written and rows refused (quarantined).
    username
        Who loaded; ``None`` for a sync started by the system.
    now
        Time of the audit entry; default now.
    days, tables
        The days the new rows count for and the tables that received them, for an
        incremental refresh (see :func:`rebuild`); default a full rebuild.
    lake
        A Parquet lake (:mod:`engine.lake`) to fold the load into as well: the day
        partitions and table files the load touched are rewritten (no duplicates on re-run).

    Raises
    ------
    ValueError
        For an empty ``load_id`` or negative counts.
    """
    if not load_id:
        raise ValueError("a load needs its id")
    if loaded < 0 or rejected < 0:
        raise ValueError(f"row counts must not be negative, got {loaded} and {rejected}")
    if loaded:
        rebuild(con, days, tables)
        dbmod.set_meta(con, "data_version", load_id)
        if lake is not None:
            from engine.lake import append  # the lake is optional: loaded only when asked

            append(con, lake, days or (), tables or ())
    audit.record(
        con,
        username,
        "import",
        {"source": source, "import_id": load_id, "loaded": loaded, "rejected": rejected},
        now,
    )
