"""The data set as a whole: its version token, its status (tables, imports) and its quarantine.

The version token changes whenever the data change (a new world, an import, a sync: see
:mod:`engine.afterload`), so caches keyed by it never serve stale rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from engine import db as dbmod

# Meta keys whose values together identify the data (the generator's world, then each load).
VERSION_KEYS = ("as_of", "data_version", "price_exploration", "scale", "seed")


@dataclass(frozen=True)
class Status:
    """What the data page shows about the database."""

    schema_version: int | None
    tables: pd.DataFrame  # table, rows
    imports: pd.DataFrame  # imported_at, source, target_table, rows_in, rows_loaded, rows_rejected
    quarantined: int
    scale: str
    seed: str
    as_of: str


def version(con: duckdb.DuckDBPyConnection) -> str:
    """Return a token that changes when the data change, for cache keys.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    str
        The ``meta`` values of :data:`VERSION_KEYS` that are set, joined by ``|`` in key order.
    """
    rows = con.execute(
        "SELECT value FROM meta WHERE list_contains(?::VARCHAR[], key) ORDER BY key",
        [list(VERSION_KEYS)],
    ).fetchall()
    return "|".join(r[0] for r in rows)


def status(con: duckdb.DuckDBPyConnection, recent: int = 20) -> Status:
    """Return the schema version, every table with its row count, recent imports and quarantine.

    Parameters
    ----------
    con
        An open connection.
    recent
        How many of the latest import-log entries to return.

    Returns
    -------
    Status
        Meta values missing from the database are shown as ``"—"``.
    """
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    # Names come from the catalogue itself, not from users.
    rows = [(n, con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names]
    imports = con.execute(
        "SELECT imported_at, source, target_table, rows_in, rows_loaded, rows_rejected "
        "FROM import_log ORDER BY imported_at DESC LIMIT ?",
        [int(recent)],
    ).df()
    quarantined = con.execute("SELECT count(*) FROM import_quarantine").fetchall()[0][0]
    return Status(
        schema_version=dbmod.schema_version(con),
        tables=pd.DataFrame(rows, columns=["table", "rows"]),
        imports=imports,
        quarantined=int(quarantined),
        scale=dbmod.get_meta(con, "scale", "—") or "—",
        seed=dbmod.get_meta(con, "seed", "—") or "—",
        as_of=dbmod.get_meta(con, "as_of", "—") or "—",
    )


def quarantine(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> pd.DataFrame:
    """Return the most recently rejected import rows with their reasons.

    Parameters
    ----------
    con
        An open connection.
    limit
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        ``import_id, target_table, row_number, reason, row_json``, newest import first.
    """
    return con.execute(
        "SELECT import_id, target_table, row_number, reason, row_json FROM import_quarantine "
        "ORDER BY import_id DESC, row_number LIMIT ?",
        [int(limit)],
    ).df()
