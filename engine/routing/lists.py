"""Pick lists (分拣单) and loading lists (装车单) of a planned delivery day."""

from __future__ import annotations

import pandas as pd

from engine.routing import dispatch


def loading_list(day: dispatch.DayPlan) -> pd.DataFrame:
    """Per vehicle and trip, what to load in loading order (last stop first), per stop and SKU.

    Parameters
    ----------
    day
        A planned day.

    Returns
    -------
    pandas.DataFrame
        ``plate, vehicle_id, trip, load_seq, seq, pickup_id, name, temp, sku_id, sku_name,
        storage, unit, qty, orders, kg`` (发货单/装车单); ``load_seq`` restarts each trip.
    """
    per_stop = _per_stop_sku(day)
    visits = day.route_stops[["vehicle_id", "plate", "trip", "seq", "stop_key", "name"]]
    out = visits.merge(per_stop, on="stop_key")
    # Within a trip the last stop's goods go in first (they come out last).
    out["load_seq"] = (
        out.groupby(["vehicle_id", "trip"])["seq"].rank(method="dense", ascending=False)
    ).astype(int)
    out = out.sort_values(["vehicle_id", "trip", "load_seq", "sku_id"]).reset_index(drop=True)
    cols = ["plate", "vehicle_id", "trip", "load_seq", "seq", "pickup_id", "name", "temp"]
    cols.append("sku_id")
    return out[[*cols, "sku_name", "storage", "unit", "qty", "orders", "kg"]]


def pick_list(day: dispatch.DayPlan) -> pd.DataFrame:
    """Per pickup point and SKU: quantity and order count, with the vehicle that carries it.

    Parameters
    ----------
    day
        A planned day.

    Returns
    -------
    pandas.DataFrame
        ``pickup_id, name, temp, plate, seq, sku_id, sku_name, storage, unit, qty, orders,
        kg`` (分拣单); ``plate`` is empty for dropped stops.
    """
    per_stop = _per_stop_sku(day)
    names = day.stops[["stop_key", "name"]]
    visits = day.route_stops[["stop_key", "plate", "seq"]]
    out = per_stop.merge(names, on="stop_key").merge(visits, on="stop_key", how="left")
    out = out.sort_values(["pickup_id", "temp", "sku_id"]).reset_index(drop=True)
    cols = ["pickup_id", "name", "temp", "plate", "seq", "sku_id", "sku_name", "storage"]
    return out[[*cols, "unit", "qty", "orders", "kg"]]


def _per_stop_sku(day: dispatch.DayPlan) -> pd.DataFrame:
    return (
        day.lines.groupby(
            ["stop_key", "pickup_id", "temp", "sku_id", "sku_name", "storage", "unit"],
            sort=False,
        )
        .agg(qty=("qty", "sum"), orders=("order_id", "nunique"), kg=("kg", "sum"))
        .reset_index()
    )
