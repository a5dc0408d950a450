"""Stock by lot (``inventory_lots``): which units are close to their expiry date.

A platform that loads its stock lots (received and expiry dates per warehouse and SKU) gets its
near-expiry stock from the data: a clearance markdown starts from these units and days instead
of numbers typed in. The latest lot snapshot on or before ``as_of`` is used.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope


def near_expiry(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    within_days: int = 7,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Lots on hand that expire within ``within_days`` days of ``as_of`` (not yet expired).

    Parameters
    ----------
    con
        An open Linli database.
    as_of
        The day looked from; default :func:`engine.clock.world_today` (the last day of data).
    within_days
        Days ahead (0 = expiring today).
    scope
        The caller's row scope; warehouses outside it are left out.

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id, sku_id, name, lot_id, qty, received_date, expiry_date, days_left``,
        soonest expiry first; empty when no lots were loaded.

    Raises
    ------
    ValueError
        For a negative ``within_days``.
    """
    if within_days < 0:
        raise ValueError(f"within_days must be at least 0, got {within_days}")
    day = as_of or clock.world_today(con)
    frame = con.execute(
        """
        WITH snap AS (
            SELECT warehouse_id, max(stock_date) AS stock_date FROM inventory_lots
            WHERE stock_date <= ? GROUP BY 1)
        SELECT l.warehouse_id, l.sku_id, s.name, l.lot_id, l.qty, l.received_date,
               l.expiry_date, datediff('day', ?::DATE, l.expiry_date) AS days_left
        FROM inventory_lots l JOIN snap USING (warehouse_id, stock_date)
        JOIN skus s USING (sku_id)
        WHERE l.qty > 0 AND l.expiry_date BETWEEN ?::DATE AND ?::DATE + ?::INTEGER
        ORDER BY l.expiry_date, l.warehouse_id, l.sku_id, l.lot_id
        """,
        [day, day, day, day, within_days],
    ).df()
    return scope.keep(con, frame, "warehouse_id").reset_index(drop=True)


def for_sku(frame: pd.DataFrame, sku_id: int) -> tuple[int, int] | None:
    """Units and the fewest days left over one SKU's near-expiry lots, or ``None`` without any.

    Parameters
    ----------
    frame
        What :func:`near_expiry` returned.
    sku_id
        The SKU.

    Returns
    -------
    tuple of int, or None
        ``(units, days_left)`` of the soonest-expiring lots' SKU.
    """
    rows = frame.loc[frame["sku_id"] == sku_id]
    if rows.empty:
        return None
    return int(rows["qty"].sum()), int(rows["days_left"].min())
