"""Writing the Parquet lake from a Linli database: a full export and the daily append.

Layout (Hive partitioning, one folder per table)::

    <lake>/orders/order_date=YYYY-MM-DD/*.parquet
    <lake>/order_items/order_date=YYYY-MM-DD/*.parquet     (the order's date joined in)
    <lake>/telemetry/day=YYYY-MM-DD/warehouse_id=N/*.parquet (the device's warehouse)
    <lake>/<table>/data.parquet                             (every other table, one file)

The append rewrites whole day partitions from the database (and whole files of the other
tables a load touched), each written beside its target and swapped in, so running the same
load twice leaves the lake as once: no duplicated rows.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb

# Every input table (the import order of connectors.tables) and the cold-chain readings.
TABLES = (
    "regions",
    "warehouses",
    "suppliers",
    "communities",
    "leaders",
    "pickup_points",
    "vehicles",
    "users",
    "skus",
    "campaigns",
    "orders",
    "order_items",
    "inventory",
    "reference_prices",
    "inventory_lots",
    "browse_events",
    "chat_activity",
    "topics",
    "feedback",
    "weather",
    "calendar",
    "devices",
    "telemetry",
)
# Partitioned tables: the partition columns, and the SELECT adding them to the table's rows
# (``{where}`` narrows it to some days; table names are the constants above).
PARTITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "orders": (("order_date",), "SELECT * FROM orders o WHERE TRUE {where}"),
    "order_items": (
        ("order_date",),
        "SELECT i.*, o.order_date FROM order_items i JOIN orders o USING (order_id) "
        "WHERE TRUE {where}",
    ),
    "telemetry": (
        ("day", "warehouse_id"),
        "SELECT t.*, t.ts::DATE AS day, d.warehouse_id FROM telemetry t "
        "JOIN devices d USING (device_id) WHERE TRUE {where}",
    ),
}
# The day column each partitioned SELECT filters on.
_DAY = {"orders": "o.order_date", "order_items": "o.order_date", "telemetry": "t.ts::DATE"}


class LakeError(ValueError):
    """The lake cannot be written or read as asked; the message says why."""


def _quote(path: Path) -> str:
    # A path becomes a SQL string literal (COPY takes no parameter for its target).
    return "'" + str(path).replace("'", "''") + "'"


def _present(con: duckdb.DuckDBPyConnection) -> list[str]:
    have = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main'"
        ).fetchall()
    }
    return [t for t in TABLES if t in have]


def _copy(con: duckdb.DuckDBPyConnection, table: str, target: Path, where: str = "") -> None:
    """Write one table (or some of its days) into an empty folder ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    if table in PARTITIONS:
        cols, select = PARTITIONS[table]
        con.execute(
            f"COPY ({select.format(where=where)}) TO {_quote(target)} (FORMAT parquet, "
            f"PARTITION_BY ({', '.join(cols)}), OVERWRITE_OR_IGNORE true, "
            "FILENAME_PATTERN 'part_{uuid}', COMPRESSION zstd)"
        )
    else:
        con.execute(
            f"COPY (SELECT * FROM {table}) TO {_quote(target / 'data.parquet')} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )


def _swap(new: Path, old: Path) -> None:
    """Move ``new`` into place of ``old`` (removing what ``old`` held)."""
    trash = old.with_name(f".trash-{uuid.uuid4().hex}")
    if old.exists():
        old.rename(trash)
    old.parent.mkdir(parents=True, exist_ok=True)
    new.rename(old)
    shutil.rmtree(trash, ignore_errors=True)


def export(con: duckdb.DuckDBPyConnection, lake: str | Path) -> dict[str, int]:
    """Write every lake table of a database to ``lake``, replacing what the lake held.

    Parameters
    ----------
    con
        A connection to a Linli database (read-only is enough).
    lake
        The lake folder; created when missing.

    Returns
    -------
    dict of str to int
        Rows written per table.

    Raises
    ------
    LakeError
        When ``lake`` is a file, or the database has no ``orders`` table.
    """
    root = Path(lake)
    if root.exists() and not root.is_dir():
        raise LakeError(f"the lake {root} is a file, not a folder")
    tables = _present(con)
    if "orders" not in tables:
        raise LakeError("the database has no orders table: nothing to export")
    root.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in tables:
        staging = root / f".staging-{uuid.uuid4().hex}"
        _copy(con, table, staging)
        _swap(staging, root / table)
        counts[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    return counts


def append(
    con: duckdb.DuckDBPyConnection,
    lake: str | Path,
    days: Iterable[date],
    tables: Iterable[str],
) -> dict[str, int]:
    """Fold a load into the lake: rewrite the day partitions and the files it touched.

    Parameters
    ----------
    con
        The database the load wrote to (after the load).
    lake
        A lake written by :func:`export`.
    days
        The days the new rows count for (the load's days).
    tables
        The tables that received rows; a partitioned table has its partitions of ``days``
        rewritten (``order_items`` also rewrites ``orders``' and vice versa), any other lake
        table its whole file.

    Returns
    -------
    dict of str to int
        Partitions (for a partitioned table) or files rewritten per table.

    Raises
    ------
    LakeError
        When ``lake`` is not a folder.
    """
    root = Path(lake)
    if not root.is_dir():
        raise LakeError(f"the lake {root} does not exist; write it first with export")
    touched = set(tables)
    if touched & {"orders", "order_items"}:
        touched |= {"orders", "order_items"}
    wanted = sorted(set(days))
    done: dict[str, int] = {}
    for table in [t for t in _present(con) if t in touched]:
        if table not in PARTITIONS:
            staging = root / f".staging-{uuid.uuid4().hex}"
            _copy(con, table, staging)
            _swap(staging, root / table)
            done[table] = 1
            continue
        if not wanted:
            continue
        # Days are date objects; they enter the SQL as ISO literals in a fixed shape.
        listed = ", ".join(f"DATE '{d.isoformat()}'" for d in wanted)
        staging = root / f".staging-{uuid.uuid4().hex}"
        _copy(con, table, staging, where=f"AND {_DAY[table]} IN ({listed})")
        first = PARTITIONS[table][0][0]
        for d in wanted:
            new = staging / f"{first}={d.isoformat()}"
            old = root / table / new.name
            if new.exists():
                _swap(new, old)
            elif old.exists():  # the day's rows are gone from the database
                shutil.rmtree(old)
        shutil.rmtree(staging, ignore_errors=True)
        done[table] = len(wanted)
    return done
