"""DuckDB over the lake, read-only: one view per lake table over ``read_parquet``.

The views give each table its database shape (the partition columns a table does not have,
such as ``order_items.order_date`` or telemetry's ``day`` and ``warehouse_id``, are left
out; ``orders.order_date`` comes back as a DATE), so every engine query runs unchanged over
the lake. DuckDB only reads the Parquet files: the lake is never written through a view.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.lake.export import PARTITIONS, TABLES, LakeError

# Partition columns that are not columns of the table itself.
_EXTRA = {"order_items": ("order_date",), "telemetry": ("day", "warehouse_id")}


def _literal(path: Path) -> str:
    # A path becomes a SQL string literal (a view stores no parameters).
    return "'" + str(path).replace("'", "''") + "'"


def tables(lake: str | Path) -> list[str]:
    """The lake tables present in ``lake`` (a folder holding at least one Parquet file).

    Raises
    ------
    LakeError
        When ``lake`` is not an existing folder.
    """
    root = Path(lake)
    if not root.is_dir():
        raise LakeError(f"the lake {root} does not exist or is not a folder")
    return [t for t in TABLES if (root / t).is_dir() and next((root / t).rglob("*.parquet"), None)]


def source(lake: str | Path, table: str) -> str:
    """The SELECT giving a lake table in its database shape.

    Parameters
    ----------
    lake
        The lake folder.
    table
        One of :data:`engine.lake.export.TABLES`.

    Raises
    ------
    LakeError
        For a table that is not a lake table.
    """
    if table not in TABLES:
        raise LakeError(f"{table!r} is not a lake table")
    folder = Path(lake).resolve() / table
    if table not in PARTITIONS:
        return f"SELECT * FROM read_parquet({_literal(folder / '*.parquet')})"
    files = _literal(folder / "**" / "*.parquet")
    scan = f"read_parquet({files}, hive_partitioning = true, union_by_name = true)"
    extra = _EXTRA.get(table, ())
    if extra:
        return f"SELECT * EXCLUDE ({', '.join(extra)}) FROM {scan}"
    return f"SELECT * REPLACE (order_date::DATE AS order_date) FROM {scan}"


def attach(con: duckdb.DuckDBPyConnection, lake: str | Path, persistent: bool = False) -> list[str]:
    """Create a view per lake table, so queries on ``orders`` … read the lake.

    Parameters
    ----------
    con
        A DuckDB connection (read-only is fine for temporary views).
    lake
        The lake folder.
    persistent
        False: temporary views, which shadow the database's own tables of the same name for
        this connection only. True: views stored in the database in place of its tables of
        the same name (dropped), so every later connection reads the lake (a serving
        database; the files are referenced by absolute path).

    Returns
    -------
    list of str
        The tables now read from the lake.

    Raises
    ------
    LakeError
        When ``lake`` is missing or holds no ``orders``.
    """
    present = tables(lake)
    if "orders" not in present:
        raise LakeError(f"the lake {lake} has no orders table (write it with export first)")
    for table in present:
        sql = source(lake, table)
        if persistent:
            con.execute(f"DROP TABLE IF EXISTS main.{table}")
            con.execute(f"CREATE OR REPLACE VIEW main.{table} AS {sql}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {sql}")
    return present
