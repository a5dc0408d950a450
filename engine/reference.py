"""The platform's reference rows: regions, warehouses and their fleet, communities, pickup points.

Small listings that pages label and filter with. Each takes the caller's row scope and
returns only what the scope may see (see :class:`engine.auth.Scope`).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from engine.auth import ALL, Scope


def regions(con: duckdb.DuckDBPyConnection, scope: Scope = ALL) -> pd.DataFrame:
    """Return the regions inside the scope, by id.

    A scope limited to warehouses only (a dispatcher) names no regions, so it lists them all:
    what it may see of each is cut by the functions that return rows.

    Parameters
    ----------
    con
        An open connection.
    scope
        The caller's row scope.

    Returns
    -------
    pandas.DataFrame
        ``region_id, name``.

    Raises
    ------
    EmptyScope
        When the scope matches no community.
    """
    table = con.execute("SELECT region_id, name FROM regions ORDER BY region_id").df()
    scope.communities(con)  # a scope that matches no community lists no region (EmptyScope)
    if scope.regions is None:
        return table
    return table.loc[table["region_id"].isin(scope.regions)].reset_index(drop=True)


def warehouses(
    con: duckdb.DuckDBPyConnection, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """Return the forward warehouses inside the scope with their fleet size and regions served.

    Parameters
    ----------
    con
        An open connection.
    regions
        Keep only warehouses located in these regions; empty for all.
    scope
        The caller's row scope: a warehouse is inside when it serves a community of the
        scope (see :meth:`engine.auth.Scope.warehouse_ids`).

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id, name, region_id, lat, lon, vehicles`` (fleet size) and ``serves``
        (the sorted region ids of the communities it supplies, empty for none), by
        warehouse id.
    """
    wanted = [int(r) for r in regions]
    table = con.execute(
        """SELECT w.warehouse_id, w.name, w.region_id, w.lat, w.lon,
                  (SELECT count(*) FROM vehicles v WHERE v.warehouse_id = w.warehouse_id)
                      AS vehicles,
                  coalesce((SELECT list(DISTINCT c.region_id ORDER BY c.region_id)
                            FROM communities c WHERE c.warehouse_id = w.warehouse_id),
                           []::INTEGER[]) AS serves
           FROM warehouses w
           WHERE len(?::INTEGER[]) = 0 OR list_contains(?::INTEGER[], w.region_id)
           ORDER BY w.warehouse_id""",
        [wanted, wanted],
    ).df()
    return scope.keep(con, table, "warehouse_id").reset_index(drop=True)


def fleet(con: duckdb.DuckDBPyConnection, warehouse_id: int, scope: Scope = ALL) -> pd.DataFrame:
    """Return the vehicles of one warehouse (rows of the ``vehicles`` table), by vehicle id.

    Parameters
    ----------
    con
        An open connection.
    warehouse_id
        The warehouse.
    scope
        The caller's row scope.

    Returns
    -------
    pandas.DataFrame
        Every column of ``vehicles``.

    Raises
    ------
    ScopeError
        When the warehouse lies outside the scope.
    """
    scope.clip_warehouses(con, [int(warehouse_id)])
    return con.execute(
        "SELECT * FROM vehicles WHERE warehouse_id = ? ORDER BY vehicle_id", [int(warehouse_id)]
    ).df()


def pickups(con: duckdb.DuckDBPyConnection, warehouse_id: int, scope: Scope = ALL) -> pd.DataFrame:
    """Return the pickup points a warehouse serves whose community is inside the scope.

    Parameters
    ----------
    con
        An open connection.
    warehouse_id
        The serving warehouse.
    scope
        The caller's row scope.

    Returns
    -------
    pandas.DataFrame
        ``pickup_id, name``, by pickup id (empty for a warehouse outside the scope).
    """
    allowed = scope.communities(con)
    return con.execute(
        """SELECT p.pickup_id, p.name FROM pickup_points p
           JOIN communities c USING (community_id)
           WHERE c.warehouse_id = ?
             AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.community_id))
           ORDER BY p.pickup_id""",
        [int(warehouse_id), allowed, allowed],
    ).df()


def communities(con: duckdb.DuckDBPyConnection, scope: Scope = ALL) -> pd.DataFrame:
    """Return the communities inside the scope with name, type, region and serving warehouse.

    Parameters
    ----------
    con
        An open connection.
    scope
        The caller's row scope.

    Returns
    -------
    pandas.DataFrame
        ``community_id, name, type, region_id, warehouse_id``, by community id.
    """
    allowed = scope.communities(con)
    return con.execute(
        "SELECT community_id, name, type, region_id, warehouse_id FROM communities "
        "WHERE ?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], community_id) "
        "ORDER BY community_id",
        [allowed, allowed],
    ).df()


def service_areas(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return the optional service-area outlines (none in a database that has not loaded any).

    Parameters
    ----------
    con
        An open connection (read-only files opened before the table existed work too).

    Returns
    -------
    pandas.DataFrame
        ``area_id, name, region_id, geometry_json`` (one GeoJSON geometry each), by id.
    """
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'service_areas'"
    ).fetchall()[0][0]
    if not exists:
        return pd.DataFrame(columns=["area_id", "name", "region_id", "geometry_json"])
    return con.execute(
        "SELECT area_id, name, region_id, geometry_json FROM service_areas ORDER BY area_id"
    ).df()
