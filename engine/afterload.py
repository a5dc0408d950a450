"""The one step after data land: derived tables rebuilt, "today" moved, version bumped, audited.

Every path that writes rows runs it: a file import (数据管理), a sync from an operational
database and the demo-world generator. Without it the KPIs would read
stale rollups and cached pages would keep the old rows.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from engine import audit, clock, kpis
from engine import db as dbmod
from engine.segmentation import features


def rebuild(con: duckdb.DuckDBPyConnection) -> date | None:
    """Rebuild the rollups and set meta ``as_of`` to the last order day.

    Parameters
    ----------
    con
        A writable connection.

    Returns
    -------
    date or None
        The new as-of date, or ``None`` for a database without orders (``as_of`` untouched).
    """
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
        rebuild(con)
        dbmod.set_meta(con, "data_version", load_id)
    audit.record(
        con,
        username,
        "import",
        {"source": source, "import_id": load_id, "loaded": loaded, "rejected": rejected},
        now,
    )
