"""Linli's delivery day: stops per pickup point → one routing problem per warehouse → routes.

Orders placed on day d are delivered to their pickup points on d+1, so the plan for
``delivery_date`` takes the paid orders of the day before (:mod:`engine.routing.orders`
reads them and groups them into stops). Each pickup point becomes one stop (or two with
``split_cold``: a chilled/frozen part for a refrigerated vehicle and an ambient part any
vehicle may carry) with the pickup point's delivery window, served by the vehicles of the
warehouse that serves its community. The pick and loading lists of a planned day are in
:mod:`engine.routing.lists`.

Units inside the routing problem: distance in metres, time in seconds, weight in 0.1 kg,
volume in litres, cost in 1e-4 yuan, so every quantity is an exact integer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from engine.auth import ALL, Scope
from engine.routing import orders
from engine.routing.problem import RoutingPlan, RoutingProblem, VehicleType
from engine.routing.solve import DEFAULT_SOLVER, REASONS, must_serve_penalty, solve_many

WEIGHT_SCALE = 10  # problem weight unit = 0.1 kg
COST_SCALE = 10_000  # problem cost unit = 1e-4 yuan
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class DispatchSettings:
    """How a day is turned into a routing problem.

    Parameters
    ----------
    detour_factor
        Road distance over great-circle distance (≥ 1; ~1.3 in a Chinese city grid).
    speed_bands
        ``(from_minute_of_day, km/h)`` pairs, first at minute 0. A vehicle's travel times use
        the slowest band its working span (shift start to the last window close) touches,
        so planned arrival times are safe upper bounds in rush hours.
    max_trips
        Trips per vehicle and shift (a forward warehouse reloads vans between waves). Three
        waves fit a 12-hour shift with pickup windows of 8-9 hours; the plan still checks
        every window and the shift end, so a van makes a third trip only when it fits.
    split_cold
        Split each pickup point into a chilled/frozen stop and an ambient stop, so ambient
        goods can ride on non-refrigerated vehicles.
    time_limit_s
        Search time for the whole day, shared among warehouses by their stop counts; with
        ``workers`` processes the warehouses are split into that many groups solved at once
        (see :func:`engine.routing.solve_many`).
    solver
        Routing backend (``None`` = the default of :func:`engine.routing.solve`).
    seed
        Random seed of the search.
    workers
        Processes for the search (``None`` = one per core, at most 2; 1 = this process only).
    cpu_time
        Count ``time_limit_s`` in CPU seconds of each search process (for benchmarks on a
        busy machine; the plan then takes longer than ``time_limit_s`` of wall-clock time).
    """

    detour_factor: float = 1.3
    speed_bands: tuple[tuple[int, float], ...] = (
        (0, 45.0),
        (7 * 60, 22.0),
        (9 * 60, 32.0),
        (17 * 60, 20.0),
        (19 * 60, 38.0),
    )
    max_trips: int = 3
    split_cold: bool = True
    time_limit_s: float = 10.0
    solver: str | None = None
    seed: int = 0
    workers: int | None = None
    cpu_time: bool = False

    def __post_init__(self) -> None:
        if not self.detour_factor >= 1:
            raise ValueError(f"detour_factor must be >= 1, got {self.detour_factor}")
        bands = tuple((int(m), float(v)) for m, v in self.speed_bands)
        object.__setattr__(self, "speed_bands", bands)
        if not bands or bands[0][0] != 0:
            raise ValueError("speed_bands must start at minute 0")
        if any(b[0] >= c[0] for b, c in itertools.pairwise(bands)):
            raise ValueError("speed_bands must be sorted by start minute")
        if any(not v > 0 for _, v in bands):
            raise ValueError("every speed in speed_bands must be positive")
        if not self.time_limit_s > 0:
            raise ValueError("time_limit_s must be positive")
        if int(self.max_trips) != self.max_trips or self.max_trips < 1:
            raise ValueError("max_trips must be an integer >= 1")
        if self.workers is not None and (int(self.workers) != self.workers or self.workers < 1):
            raise ValueError("workers must be an integer >= 1 (or None)")

    @classmethod
    def from_toml(cls, path: str | Path) -> DispatchSettings:
        """Load settings from the ``[dispatch]`` table of a TOML file.

        Parameters
        ----------
        path
            TOML file; unknown keys raise.

        Returns
        -------
        DispatchSettings
            Defaults overridden by the file.

        Raises
        ------
        ValueError
            On unknown keys or invalid values.
        """
        with open(path, "rb") as fh:
            table = tomllib.load(fh).get("dispatch", {})
        unknown = set(table) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown dispatch settings: {sorted(unknown)}")
        if "speed_bands" in table:
            table["speed_bands"] = tuple(tuple(b) for b in table["speed_bands"])
        return cls(**table)

    def speed_kmh(self, start_min: int, end_min: int) -> float:
        """Slowest speed of the bands overlapping ``[start_min, end_min]`` (minutes of day)."""
        starts = [m for m, _ in self.speed_bands] + [10**9]
        speeds = [
            v
            for (m, v), nxt in zip(self.speed_bands, starts[1:], strict=True)
            if m <= end_min and nxt > start_min
        ]
        return min(speeds) if speeds else self.speed_bands[-1][1]


@dataclass(frozen=True, eq=False)
class WarehouseSolve:
    """The routing problem of one warehouse, its plan, and what each node stands for."""

    warehouse_id: int
    problem: RoutingProblem
    plan: RoutingPlan
    stop_keys: tuple[str, ...]  # node i>0 ↔ stops.stop_key
    vehicle_ids: tuple[int, ...]  # vehicle type t ↔ vehicles.vehicle_id


@dataclass(frozen=True, eq=False)
class DayPlan:
    """A delivery day's routes, stops, drops and order lines (see module docstring).

    ``stops``: one row per stop (``stop_key``, pickup, kg, volume, chilled/frozen kg, orders,
    window). ``routes``: one row per used vehicle. ``route_stops``: one row per visit with ETA.
    ``dropped``: stops not planned, with ``code`` and ``reason``. ``lines``: order lines
    (order × SKU) with their ``stop_key``, the basis of the pick lists.
    """

    delivery_date: dt.date
    order_date: dt.date
    stops: pd.DataFrame
    routes: pd.DataFrame
    route_stops: pd.DataFrame
    dropped: pd.DataFrame
    lines: pd.DataFrame
    solves: tuple[WarehouseSolve, ...]
    messages: tuple[str, ...] = ()
    settings: DispatchSettings = field(default_factory=DispatchSettings)


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres (broadcasting over arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def build_problem(
    stops: pd.DataFrame,
    depot: tuple[float, float],
    vehicles: pd.DataFrame,
    settings: DispatchSettings,
    pins: dict[int, int] | None = None,
) -> RoutingProblem:
    """The routing problem of one warehouse (node 0) and its geocoded stops.

    Parameters
    ----------
    stops
        Rows of :attr:`DayPlan.stops` with coordinates, windows (minutes) and service minutes.
    depot
        Warehouse ``(lat, lon)``.
    vehicles
        Rows of the ``vehicles`` table, one vehicle type each.
    settings
        Detour factor and speed bands.
    pins
        ``pickup_id -> vehicle_id``: that pickup point's stops may only ride that vehicle.

    Returns
    -------
    RoutingProblem
        Metres, seconds, 0.1 kg, litres and 1e-4 yuan (see module docstring).
    """
    lat = np.concatenate([[depot[0]], stops["lat"].to_numpy(float)])
    lon = np.concatenate([[depot[1]], stops["lon"].to_numpy(float)])
    metres = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    distance = np.rint(metres * settings.detour_factor).astype(np.int64)
    last_close = int(stops["window_end"].max()) if len(stops) else 24 * 60
    speeds = [
        settings.speed_kmh(int(v.shift_start), min(int(v.shift_end), last_close))
        for v in vehicles.itertuples()
    ]
    profiles = sorted(set(speeds))
    duration = np.stack([np.ceil(distance / (s / 3.6)).astype(np.int64) for s in profiles])
    vtypes = [
        VehicleType(
            capacity=math.floor(v.capacity_kg * WEIGHT_SCALE + 1e-9),
            capacity_volume=math.floor(v.capacity_m3 * 1000 + 1e-9),
            refrigerated=bool(v.refrigerated),
            shift_start=int(v.shift_start) * 60,
            shift_end=int(v.shift_end) * 60,
            fixed_cost=round(v.fixed_cost * COST_SCALE),
            unit_distance_cost=round(v.cost_per_km * COST_SCALE / 1000),
            profile=profiles.index(speed),
            max_trips=settings.max_trips,
            name=str(v.plate),
        )
        for v, speed in zip(vehicles.itertuples(), speeds, strict=True)
    ]
    problem = RoutingProblem(
        distance=distance,
        duration=duration,
        demand=[0, *np.ceil(stops["kg"].to_numpy() * WEIGHT_SCALE - 1e-9).astype(int)],
        volume=[0, *np.ceil(stops["volume_l"].to_numpy() - 1e-9).astype(int)],
        vehicle_types=vtypes,
        time_windows=[
            (0, 24 * 3600),
            *zip(stops["window_start"] * 60, stops["window_end"] * 60, strict=True),
        ],
        service_time=[0, *(stops["service_min"].astype(int) * 60)],
        needs_refrigeration=[False, *stops["needs_refrigeration"]],
        coords=list(zip(lat, lon, strict=True)),
        names=["depot", *stops["stop_key"]],
    )
    # Every stop must be served, but when the fleet is short the plan should still come back
    # in one solve: make stops droppable at a price above any cost of serving them.
    penalty = [None, *(must_serve_penalty(problem, i) for i in problem.stops)]
    allowed: list[tuple[int, ...] | None] = [None] * problem.num_nodes
    index_of = {int(v): k for k, v in enumerate(vehicles["vehicle_id"])}
    for node, pid in enumerate(stops["pickup_id"], start=1):
        vid = (pins or {}).get(int(pid))
        if vid is not None:
            # A pin to a vehicle of another warehouse (or none) leaves no eligible vehicle.
            allowed[node] = (index_of[vid],) if vid in index_of else ()
    return dataclasses.replace(problem, penalty=penalty, allowed_vehicle_types=allowed)


def fleet_note(problem: RoutingProblem, max_trips: int) -> str:
    """What a warehouse's fleet can carry against what its stops need, for drop reasons.

    Parameters
    ----------
    problem
        One warehouse's problem (as from :func:`build_problem`).
    max_trips
        Trips per vehicle and shift.

    Returns
    -------
    str
        E.g. ``"stops need 10,426 kg (6,024 kg cold); 6 vans carry 5,900 kg per trip
        (4,100 kg refrigerated), ≤ 3 trips each"``.
    """
    assert problem.needs_refrigeration is not None
    stops = list(problem.stops)
    need = sum(problem.demand[i] for i in stops) / WEIGHT_SCALE
    cold = sum(problem.demand[i] for i in stops if problem.needs_refrigeration[i]) / WEIGHT_SCALE
    vans = problem.vehicle_types
    cap = sum(vt.capacity * vt.count for vt in vans) / WEIGHT_SCALE
    cold_cap = sum(vt.capacity * vt.count for vt in vans if vt.refrigerated) / WEIGHT_SCALE
    short = ""
    if need > cap * max_trips or cold > cold_cap * max_trips:
        short = "; more than the fleet can carry in its trips"
    return (
        f"stops need {need:,.0f} kg ({cold:,.0f} kg cold); {sum(vt.count for vt in vans)} vans "
        f"carry {cap:,.0f} kg per trip ({cold_cap:,.0f} kg refrigerated), "
        f"{'≤ ' + str(max_trips) + ' trips' if max_trips > 1 else 'one trip'} each{short}"
    )


def _query(con, sql: str, params: list) -> pd.DataFrame:
    return con.execute(sql, params).df()


def plan_day(
    con: duckdb.DuckDBPyConnection,
    delivery_date: dt.date,
    warehouse_ids: list[int] | None = None,
    settings: DispatchSettings | None = None,
    vehicles: pd.DataFrame | None = None,
    pins: dict[int, int] | None = None,
    scope: Scope = ALL,
) -> DayPlan:
    """Plan a delivery day: routes per warehouse, dropped stops with reasons, order lines.

    Parameters
    ----------
    con
        Linli database connection (or cursor); only read.
    delivery_date
        Day the goods reach the pickup points (orders of the day before).
    warehouse_ids
        Plan only these warehouses; ``None`` = every warehouse with orders.
    settings
        Detour, speeds, solver and time budget.
    vehicles
        Fleet override for what-ifs (rows shaped like the ``vehicles`` table); ``None``
        reads the table.
    pins
        What-if ``pickup_id -> vehicle_id``: serve that pickup point with that vehicle.
    scope
        The caller's row scope; only pickup points of communities inside it are planned.

    Returns
    -------
    DayPlan
        Every stop is either routed or in ``dropped`` with a reason; an empty day gives an
        empty plan with a message.
    """
    settings = settings or DispatchSettings()
    if isinstance(delivery_date, str):
        delivery_date = dt.date.fromisoformat(delivery_date)
    order_date = delivery_date - dt.timedelta(days=1)
    lines = orders.order_lines(con, order_date, warehouse_ids, scope)
    return plan_lines(con, lines, delivery_date, settings, vehicles, pins, scope)


def plan_lines(
    con: duckdb.DuckDBPyConnection,
    lines: pd.DataFrame,
    delivery_date: dt.date,
    settings: DispatchSettings | None = None,
    vehicles: pd.DataFrame | None = None,
    pins: dict[int, int] | None = None,
    scope: Scope = ALL,
) -> DayPlan:
    """Route given order lines (real ones, or a plan's expected loads) for a delivery day.

    Parameters
    ----------
    con
        Linli database connection (or cursor); only read.
    lines
        Rows shaped like :func:`engine.routing.orders.order_lines` (``warehouse_id, pickup_id, order_id, sku_id,
        sku_name, storage, unit, qty, kg, volume_l``).
    delivery_date
        Day the goods reach the pickup points.
    settings
        Detour, speeds, solver and time budget.
    vehicles
        Fleet override (rows shaped like the ``vehicles`` table).
    pins
        ``pickup_id -> vehicle_id`` what-if pins, as in :func:`plan_day`.
    scope
        The caller's row scope; lines for pickup points outside it are not planned.

    Returns
    -------
    DayPlan
        As :func:`plan_day`.
    """
    settings = settings or DispatchSettings()
    order_date = delivery_date - dt.timedelta(days=1)
    lines = lines.copy()
    if scope.restricted:
        inside = _query(
            con,
            "SELECT pickup_id FROM pickup_points WHERE list_contains(?::INTEGER[], community_id)",
            [scope.communities(con)],
        )
        lines = lines.loc[lines["pickup_id"].isin(inside["pickup_id"])]
    pickups = _query(
        con,
        "SELECT pickup_id, name, lat, lon, window_start, window_end, service_min "
        "FROM pickup_points WHERE list_contains(?::INTEGER[], pickup_id)",
        [sorted(set(lines["pickup_id"].astype(int)))],
    )
    stops = orders.stops(lines, pickups, settings.split_cold)
    fleet = vehicles if vehicles is not None else _query(con, "SELECT * FROM vehicles", [])
    wh_ids = sorted(set(stops["warehouse_id"].astype(int)))
    depots = _query(
        con,
        "SELECT warehouse_id, lat, lon FROM warehouses "
        "WHERE list_contains(?::INTEGER[], warehouse_id)",
        [wh_ids],
    ).set_index("warehouse_id")
    messages = []
    if stops.empty:
        messages.append(f"no paid orders placed on {order_date} to deliver on {delivery_date}")
    no_xy = stops["lat"].isna() | stops["lon"].isna()
    dropped = [
        {"stop_key": k, "code": "no_coordinates", "reason": "pickup point has no coordinates"}
        for k in stops.loc[no_xy, "stop_key"]
    ]
    solves = []
    routable = stops[~no_xy]
    jobs = []
    for wh in wh_ids:
        part = routable[routable["warehouse_id"] == wh].reset_index(drop=True)
        vans = fleet[fleet["warehouse_id"] == wh].reset_index(drop=True)
        if part.empty:
            continue
        xy = (depots.at[wh, "lat"], depots.at[wh, "lon"])
        jobs.append((wh, part, vans, build_problem(part, xy, vans, settings, pins)))
    plans = solve_many(
        [job[3] for job in jobs],
        settings.time_limit_s,
        solver=settings.solver,
        seed=settings.seed,
        workers=settings.workers,
        cpu_time=settings.cpu_time,
    )
    for (wh, part, vans, problem), plan in zip(jobs, plans, strict=True):
        keys = tuple(part["stop_key"])
        solves.append(
            WarehouseSolve(wh, problem, plan, keys, tuple(vans["vehicle_id"].astype(int)))
        )
        # OR-Tools plans a single trip per van (see engine.routing.backends).
        trips = 1 if (settings.solver or DEFAULT_SOLVER) == "ortools" else settings.max_trips
        note = fleet_note(problem, trips)
        for d in plan.dropped:
            code, reason = d.code, d.reason
            if code == "penalty":  # the must-serve price was not enough: no room left
                code, reason = "no_room", REASONS["no_room"]
            if code == "no_room":
                reason = f"{reason} ({note})"
            dropped.append({"stop_key": keys[d.node - 1], "code": code, "reason": reason})
    routes, route_stops = _tables(solves, stops, fleet)
    dropped_df = pd.DataFrame(dropped, columns=["stop_key", "code", "reason"]).merge(
        stops[["stop_key", "pickup_id", "name", "temp", "kg", "orders"]], on="stop_key"
    )
    return DayPlan(
        delivery_date=delivery_date,
        order_date=order_date,
        stops=stops,
        routes=routes,
        route_stops=route_stops,
        dropped=dropped_df,
        lines=lines,
        solves=tuple(solves),
        messages=tuple(messages),
        settings=settings,
    )


def _tables(
    solves: list[WarehouseSolve], stops: pd.DataFrame, fleet: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_key = stops.set_index("stop_key")
    vans = fleet.set_index("vehicle_id")
    routes, visits = [], []
    for ws in solves:
        p = ws.problem
        for r in ws.plan.routes:
            vid = ws.vehicle_ids[r.vehicle_type]
            van = vans.loc[vid]
            assert p.coords is not None
            depot_xy = [p.coords[0][1], p.coords[0][0]]
            path = [depot_xy]
            for seq, (node, arr, start, load, trip) in enumerate(
                zip(r.stops, r.arrivals, r.starts, r.loads, r.trips, strict=True), start=1
            ):
                key = ws.stop_keys[node - 1]
                s = by_key.loc[key]
                if seq > 1 and trip != r.trips[seq - 2]:
                    path.append(depot_xy)  # back to reload
                path.append([float(s["lon"]), float(s["lat"])])
                visits.append(
                    {
                        "warehouse_id": ws.warehouse_id,
                        "vehicle_id": vid,
                        "plate": van["plate"],
                        "seq": seq,
                        "trip": trip + 1,
                        "stop_key": key,
                        "pickup_id": int(s["pickup_id"]),
                        "name": s["name"],
                        "temp": s["temp"],
                        "lat": float(s["lat"]),
                        "lon": float(s["lon"]),
                        "eta_min": arr / 60,
                        "service_start_min": start / 60,
                        "window_start": int(s["window_start"]),
                        "window_end": int(s["window_end"]),
                        "kg": float(s["kg"]),
                        "on_board_kg": load / WEIGHT_SCALE,
                        "orders": int(s["orders"]),
                    }
                )
            path.append(path[0])
            vt = p.vehicle_types[r.vehicle_type]
            routes.append(
                {
                    "warehouse_id": ws.warehouse_id,
                    "vehicle_id": vid,
                    "plate": van["plate"],
                    "refrigerated": bool(van["refrigerated"]),
                    "stops": len(r.stops),
                    "trips": r.num_trips,
                    "km": r.distance / 1000,
                    "load_kg": r.load / WEIGHT_SCALE,
                    # fullest trip against capacity (each trip starts full)
                    "load_pct": r.max_trip_load / vt.capacity if vt.capacity else 0.0,
                    "volume_pct": (r.volume / vt.capacity_volume) if vt.capacity_volume else 0.0,
                    "depart_min": r.departure / 60,
                    "return_min": r.return_time / 60,
                    "cost_yuan": (vt.fixed_cost + vt.unit_distance_cost * r.distance) / COST_SCALE,
                    "path": path,
                }
            )
    route_cols = [
        "warehouse_id", "vehicle_id", "plate", "refrigerated", "stops", "trips", "km", "load_kg",
        "load_pct", "volume_pct", "depart_min", "return_min", "cost_yuan", "path",
    ]  # fmt: skip
    visit_cols = [
        "warehouse_id", "vehicle_id", "plate", "seq", "trip", "stop_key", "pickup_id", "name", "temp",
        "lat", "lon", "eta_min", "service_start_min", "window_start", "window_end", "kg",
        "on_board_kg", "orders",
    ]  # fmt: skip
    return pd.DataFrame(routes, columns=route_cols), pd.DataFrame(visits, columns=visit_cols)
