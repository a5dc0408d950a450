"""A delivery day's routing fanned out per warehouse, in a loop here or on Spark executors.

Each forward warehouse's vans serve only its own pickup points, so a day is independent
routing problems, one per warehouse (:mod:`engine.routing.dispatch`). :func:`route_warehouse`
builds and solves one from plain pandas; :func:`route_day` runs it for every warehouse in a
loop (``engine="local"``) or as ``applyInPandas`` on the shared Spark session
(``engine="spark"``). A wall-clock limit is not reproducible (how far a search gets depends
on the load), so both paths give PyVRP the same fixed iteration budget and seed, one search
per warehouse: the routes are then identical (tests/engine/test_fanout.py).
"""

from __future__ import annotations

import datetime as dt
import functools

import duckdb
import pandas as pd

from engine import fanout
from engine.auth import ALL, Scope
from engine.routing import dispatch, orders
from engine.routing.solve import solve

GROUP = "warehouse_id"
ITERATIONS = 2_000  # PyVRP iterations per warehouse (about a second for 60 stops)
SCHEMA = (
    "warehouse_id long, kind string, route long, vehicle_id long, seq long, trip long, "
    "stop_key string, arrival_s long, route_m long, code string"
)
STOP_COLUMNS = [
    "warehouse_id", "stop_key", "pickup_id", "temp", "lat", "lon", "kg", "volume_l",
    "window_start", "window_end", "service_min", "needs_refrigeration", "depot_lat", "depot_lon",
]  # fmt: skip
VEHICLE_COLUMNS = [
    "vehicle_id", "warehouse_id", "plate", "capacity_kg", "capacity_m3", "refrigerated",
    "shift_start", "shift_end", "fixed_cost", "cost_per_km",
]  # fmt: skip


def day_stops(
    con: duckdb.DuckDBPyConnection,
    delivery_date: dt.date,
    settings: dispatch.DispatchSettings | None = None,
    scope: Scope = ALL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The routable stops of a delivery day with their warehouse's depot, and the fleet.

    Parameters
    ----------
    con
        Linli database connection (only read).
    delivery_date
        Day the goods reach the pickup points (orders of the day before).
    settings
        ``split_cold`` decides the stops; defaults as :class:`dispatch.DispatchSettings`.
    scope
        The caller's row scope.

    Returns
    -------
    tuple
        Stops (:data:`STOP_COLUMNS`; stops without coordinates left out, as the dispatch
        page drops them) and vehicles (:data:`VEHICLE_COLUMNS`).
    """
    settings = settings or dispatch.DispatchSettings()
    lines = orders.order_lines(con, delivery_date - dt.timedelta(days=1), None, scope)
    pickups = con.execute(
        "SELECT pickup_id, name, lat, lon, window_start, window_end, service_min "
        "FROM pickup_points WHERE list_contains(?::INTEGER[], pickup_id)",
        [sorted(set(lines["pickup_id"].astype(int)))],
    ).df()
    stops = orders.stops(lines, pickups, settings.split_cold)
    depots = con.execute(
        "SELECT warehouse_id, lat AS depot_lat, lon AS depot_lon FROM warehouses"
    ).df()
    stops = stops.merge(depots, on="warehouse_id")
    stops = stops.loc[stops["lat"].notna() & stops["lon"].notna(), STOP_COLUMNS]
    vehicles = con.execute("SELECT * FROM vehicles ORDER BY vehicle_id").df()[VEHICLE_COLUMNS]
    return _plain(stops), vehicles


def _plain(stops: pd.DataFrame) -> pd.DataFrame:
    """Canonical dtypes and node order (pickup point, then temperature), as dispatch uses."""
    out = stops.astype(
        {
            "warehouse_id": "int64",
            "pickup_id": "int64",
            "window_start": "int64",
            "window_end": "int64",
            "service_min": "int64",
            "needs_refrigeration": bool,
            "stop_key": str,
            "temp": str,
        }
    )
    for col in ("lat", "lon", "kg", "volume_l", "depot_lat", "depot_lon"):
        out[col] = out[col].astype("float64")
    return out.sort_values(["warehouse_id", "pickup_id", "temp"], ignore_index=True)


def route_warehouse(
    stops: pd.DataFrame,
    vehicles: pd.DataFrame,
    settings: dispatch.DispatchSettings | None = None,
    iterations: int = ITERATIONS,
) -> pd.DataFrame:
    """Build and solve one warehouse's routing problem with a fixed iteration budget.

    Module-level with plain pandas in and out, so Spark executors can run it
    (``functools.partial`` binds the fleet and settings).

    Parameters
    ----------
    stops
        One warehouse's rows of :func:`day_stops`.
    vehicles
        The fleet (all warehouses; this warehouse's vans are picked by ``warehouse_id``).
    settings
        Detour, speeds, trips and ``seed``; the solver is PyVRP, one search.
    iterations
        PyVRP iterations (the budget that makes the routes reproducible).

    Returns
    -------
    pandas.DataFrame
        :data:`SCHEMA`: one ``kind="visit"`` row per stop on a route (route index, vehicle,
        position, trip, arrival second, the route's metres) and one ``kind="dropped"`` row
        per stop left out (with its reason ``code``; -1 in the route columns).

    Raises
    ------
    ValueError
        When the rows span more than one warehouse.
    """
    settings = settings or dispatch.DispatchSettings()
    ids = pd.unique(stops[GROUP])
    if len(ids) != 1:
        raise ValueError(f"route_warehouse takes one warehouse's stops; got {sorted(ids)}")
    wh = int(ids[0])
    part = _plain(stops)
    vans = vehicles.loc[vehicles[GROUP] == wh].sort_values("vehicle_id", ignore_index=True)
    depot = (float(part["depot_lat"].iloc[0]), float(part["depot_lon"].iloc[0]))
    problem = dispatch.build_problem(part, depot, vans, settings)
    plan = solve(
        problem,
        settings.time_limit_s,
        solver="pyvrp",
        seed=settings.seed,
        workers=1,
        iterations=iterations,
    )
    keys = part["stop_key"].tolist()
    rows = []
    for k, r in enumerate(plan.routes):
        vid = int(vans.at[r.vehicle_type, "vehicle_id"])
        for seq, (node, arrival, trip) in enumerate(
            zip(r.stops, r.arrivals, r.trips, strict=True), start=1
        ):
            rows.append((wh, "visit", k, vid, seq, trip, keys[node - 1], arrival, r.distance, ""))
    for d in plan.dropped:
        rows.append((wh, "dropped", -1, -1, -1, -1, keys[d.node - 1], -1, -1, d.code))
    columns = [c.split()[0] for c in SCHEMA.split(", ")]
    out = pd.DataFrame(rows, columns=columns)
    ints = [c for c in columns if c not in ("kind", "stop_key", "code")]
    return out.astype(dict.fromkeys(ints, "int64"))


def route_day(
    stops: pd.DataFrame,
    vehicles: pd.DataFrame,
    engine: str = "local",
    settings: dispatch.DispatchSettings | None = None,
    iterations: int = ITERATIONS,
    session=None,
) -> pd.DataFrame:
    """Route every warehouse of a day (:func:`route_warehouse`) in a loop or on Spark.

    Parameters
    ----------
    stops, vehicles
        From :func:`day_stops`.
    engine
        ``"local"`` or ``"spark"`` (see :func:`engine.fanout.run`).
    settings, iterations
        As in :func:`route_warehouse`; every warehouse uses the same seed.
    session
        SparkSession for ``engine="spark"``; ``None`` uses the shared one.

    Returns
    -------
    pandas.DataFrame
        :func:`route_warehouse`'s rows for every warehouse, sorted by warehouse, kind,
        route and position.

    Raises
    ------
    ValueError
        On an unknown engine or a day without stops.
    """
    func = functools.partial(
        route_warehouse, vehicles=vehicles, settings=settings, iterations=iterations
    )
    out = fanout.run(_plain(stops), GROUP, func, SCHEMA, engine, session)
    out = out.astype({c: str for c in ("kind", "stop_key", "code")})
    order = [GROUP, "kind", "route", "seq", "stop_key"]
    return out.sort_values(order, ignore_index=True)
