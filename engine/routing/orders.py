"""The day's orders and stops: paid order lines of an order day, grouped into stops.

A stop is one pickup point, or with ``split_cold`` two: its chilled/frozen goods (for a
refrigerated vehicle) and its ambient goods (any vehicle). :mod:`engine.routing.dispatch`
routes the stops; :mod:`engine.routing.lists` turns the routed lines into pick lists.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from engine.auth import ALL, Scope

COLD = ("chilled", "frozen")


def order_lines(
    con: duckdb.DuckDBPyConnection,
    order_date: dt.date,
    warehouse_ids: list[int] | None = None,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Paid order lines of one order day with their SKU and serving warehouse.

    Parameters
    ----------
    con
        Linli database connection (or cursor).
    order_date
        Day the orders were placed.
    warehouse_ids
        Only pickup points served by these warehouses; ``None`` = all.
    scope
        The caller's row scope; pickup points of communities outside it are left out.

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id, pickup_id, order_id, sku_id, sku_name, storage, unit, qty, kg,
        volume_l``; units refunded because the group failed are not shipped.
    """
    sql = """
        SELECT c.warehouse_id, o.pickup_id, o.order_id, oi.sku_id, s.name AS sku_name,
               s.storage, s.unit,
               CAST(SUM(oi.qty - CASE WHEN oi.refund_reason = 'group_failed'
                                      THEN oi.refund_qty ELSE 0 END) AS INTEGER) AS qty,
               any_value(s.weight_kg) AS unit_kg, any_value(s.volume_l) AS unit_l
        FROM orders o
        JOIN order_items oi ON oi.order_id = o.order_id
        JOIN skus s ON s.sku_id = oi.sku_id
        JOIN pickup_points p ON p.pickup_id = o.pickup_id
        JOIN communities c ON c.community_id = p.community_id
        WHERE o.order_date = ? AND o.status = 'paid'
          AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.warehouse_id))
          AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.community_id))
        GROUP BY ALL
        HAVING SUM(oi.qty - CASE WHEN oi.refund_reason = 'group_failed'
                                 THEN oi.refund_qty ELSE 0 END) > 0
        ORDER BY o.pickup_id, o.order_id, oi.sku_id
    """
    comms = scope.communities(con)
    df = con.execute(sql, [order_date, warehouse_ids, warehouse_ids, comms, comms]).df()
    df["kg"] = df["qty"] * df.pop("unit_kg")
    df["volume_l"] = df["qty"] * df.pop("unit_l")
    return df


def stops(lines: pd.DataFrame, pickups: pd.DataFrame, split_cold: bool) -> pd.DataFrame:
    """Group order lines into stops, one per pickup point (and temperature with ``split_cold``).

    Parameters
    ----------
    lines
        Rows shaped like :func:`order_lines`; ``temp``, ``stop_key``, ``chilled_kg`` and
        ``frozen_kg`` columns are added to it in place (the pick lists group by them).
    pickups
        Pickup points: ``pickup_id, name, lat, lon, window_start, window_end, service_min``.
    split_cold
        Split each pickup point into a ``cold`` and an ``ambient`` stop.

    Returns
    -------
    pandas.DataFrame
        One row per stop: ``stop_key, warehouse_id, pickup_id, temp, kg, volume_l,
        chilled_kg, frozen_kg, orders, units, cold_share, needs_refrigeration`` and the
        pickup point's columns, by warehouse, pickup point and temperature.
    """
    cold = lines["storage"].isin(COLD)
    temp = np.where(cold, "cold", "ambient") if split_cold else np.full(len(lines), "all")
    lines["temp"] = temp
    lines["stop_key"] = lines["pickup_id"].astype(str) + ":" + lines["temp"]
    lines["chilled_kg"] = np.where(lines["storage"] == "chilled", lines["kg"], 0.0)
    lines["frozen_kg"] = np.where(lines["storage"] == "frozen", lines["kg"], 0.0)
    stops = (
        lines.groupby(["stop_key", "warehouse_id", "pickup_id", "temp"], sort=False)
        .agg(
            kg=("kg", "sum"),
            volume_l=("volume_l", "sum"),
            chilled_kg=("chilled_kg", "sum"),
            frozen_kg=("frozen_kg", "sum"),
            orders=("order_id", "nunique"),
            units=("qty", "sum"),
        )
        .reset_index()
    )
    stops["cold_share"] = (stops["chilled_kg"] + stops["frozen_kg"]) / stops["kg"].where(
        stops["kg"] > 0
    )
    stops["needs_refrigeration"] = (stops["chilled_kg"] + stops["frozen_kg"]) > 0
    stops = stops.merge(pickups, on="pickup_id", how="left")
    return stops.sort_values(["warehouse_id", "pickup_id", "temp"]).reset_index(drop=True)
