"""Where buyers are: orders and buyers on H3 hexagons, pickup points and warehouses.

Users carry no coordinates (only a community and a building), so a buyer is placed at
their community's location; the hexagons therefore show how demand spreads over the
city's estates, with the pickup points and the serving forward warehouses on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import h3
import pandas as pd

from engine.auth import ALL, Scope
from engine.segmentation import _inputs

_DENSITY_SQL = """
SELECT c.community_id, c.name, c.lat, c.lon,
       count(*) FILTER (WHERE o.status = 'paid') AS orders,
       count(DISTINCT o.user_id) FILTER (WHERE o.status = 'paid') AS buyers
FROM communities c
LEFT JOIN orders o ON o.community_id = c.community_id AND o.order_date BETWEEN ? AND ?
WHERE list_contains(?::INTEGER[], c.community_id)
GROUP BY ALL
"""


@dataclass(frozen=True)
class MapData:
    """Layers of the community density map."""

    hexes: pd.DataFrame  # hex, orders, buyers, communities, selected
    pickups: pd.DataFrame  # pickup_id, community_id, name, lat, lon, selected
    warehouses: pd.DataFrame  # warehouse_id, name, lat, lon
    centre: tuple[float, float]  # lat, lon


def density(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    regions: Sequence[int] = (),
    selected: Sequence[int] = (),
    resolution: int = 8,
    scope: Scope = ALL,
) -> MapData:
    """Orders and buyers per H3 cell for the communities in scope.

    Parameters
    ----------
    con
        Connection to a Linli database.
    start, end
        Inclusive period.
    regions
        Region ids in scope (empty = all).
    selected
        Communities to highlight (their cells, pickups and warehouses).
    resolution
        H3 resolution (8 ≈ 0.7 km² per cell).
    scope
        The caller's row scope; rows outside it are never returned.

    Returns
    -------
    MapData
        Hexagons, pickup points, warehouses and a map centre.

    Raises
    ------
    ValueError
        For an empty date range, unknown ids or a resolution outside 0–15.
    """
    _inputs.check_range(start, end)
    if not 0 <= int(resolution) <= 15:
        raise ValueError(f"H3 resolution must be 0–15, got {resolution}")
    comms = _inputs.communities(con, regions, (), scope)
    sel = set(_inputs.communities(con, (), selected, scope)) if selected else set()
    df = con.execute(_DENSITY_SQL, [start, end, comms]).df()
    df["hex"] = [
        h3.latlng_to_cell(a, b, int(resolution)) for a, b in zip(df["lat"], df["lon"], strict=True)
    ]
    df["selected"] = df["community_id"].isin(sel)
    hexes = (
        df.groupby("hex")
        .agg(
            orders=("orders", "sum"),
            buyers=("buyers", "sum"),
            communities=("name", lambda s: "、".join(s)),
            selected=("selected", "any"),
        )
        .reset_index()
    )
    pickups = con.execute(
        "SELECT p.pickup_id, p.community_id, p.name, p.lat, p.lon FROM pickup_points p "
        "WHERE list_contains(?::INTEGER[], p.community_id) AND p.lat IS NOT NULL",
        [comms],
    ).df()
    pickups["selected"] = pickups["community_id"].isin(sel)
    wh_of = sel or set(comms)
    warehouses = con.execute(
        "SELECT DISTINCT w.warehouse_id, w.name, w.lat, w.lon FROM warehouses w "
        "JOIN communities c USING (warehouse_id) WHERE list_contains(?::INTEGER[], c.community_id)",
        [sorted(wh_of)],
    ).df()
    focus = df[df["selected"]] if sel else df
    centre = (float(focus["lat"].mean()), float(focus["lon"].mean())) if len(focus) else (0.0, 0.0)
    return MapData(hexes, pickups, warehouses, centre)
