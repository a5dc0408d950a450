"""The routing contract: a problem (matrices, demands, fleet) and the plan that solves it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Latest time of anything when no limit is given; small enough that sums never overflow int64.
HORIZON = 2**40


@dataclass(frozen=True)
class VehicleType:
    """A group of identical vehicles based at one depot.

    Parameters
    ----------
    capacity
        Load limit in the problem's demand unit (kg for Linli).
    count
        Number of vehicles of this type available.
    capacity_volume
        Volume limit in the problem's volume unit; ``None`` means unlimited.
    refrigerated
        Whether the vehicle may carry stops that need refrigeration.
    depot
        Index of the depot node the vehicles start from and return to.
    shift_start, shift_end
        Earliest departure and latest return, in the duration matrix's unit.
    fixed_cost
        Cost of using one vehicle of this type (integer cost unit).
    unit_distance_cost
        Cost per unit of the distance matrix (integer cost unit).
    profile
        Which duration matrix the vehicle uses when ``duration`` holds several profiles.
    max_trips
        Trips per shift: after a trip the vehicle may return to its depot to reload
        (capacity applies per trip). Only the PyVRP backend plans more than one.
    name
        Label shown in plans.
    """

    capacity: int
    count: int = 1
    capacity_volume: int | None = None
    refrigerated: bool = False
    depot: int = 0
    shift_start: int = 0
    shift_end: int = HORIZON
    fixed_cost: int = 0
    unit_distance_cost: int = 1
    profile: int = 0
    max_trips: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        if int(self.max_trips) != self.max_trips or self.max_trips < 1:
            raise ValueError(f"vehicle type {self.name!r}: max_trips must be an int >= 1")
        for attr in ("capacity", "count", "shift_start", "fixed_cost", "unit_distance_cost"):
            if int(getattr(self, attr)) != getattr(self, attr) or getattr(self, attr) < 0:
                raise ValueError(f"vehicle type {self.name!r}: {attr} must be a non-negative int")
        if self.capacity_volume is not None and self.capacity_volume < 0:
            raise ValueError(f"vehicle type {self.name!r}: capacity_volume must be >= 0")
        if self.shift_end < self.shift_start:
            raise ValueError(
                f"vehicle type {self.name!r}: shift_end {self.shift_end} is before "
                f"shift_start {self.shift_start}"
            )


def _int_matrix(name: str, values: object, n: int | None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2:
        arr = arr[None, :, :]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise ValueError(f"{name} must be a square matrix (or a stack of them), got {arr.shape}")
    if n is not None and arr.shape[1] != n:
        raise ValueError(f"{name} is {arr.shape[1]}x{arr.shape[1]} but the problem has {n} nodes")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integers (scale and round them first)")
    out = arr.astype(np.int64)
    if out.size and out.min() < 0:
        raise ValueError(f"{name} has negative entries")
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """A capacitated vehicle routing problem with optional time windows.

    Nodes ``0 .. num_depots-1`` are depots, the remaining nodes are stops.

    Parameters
    ----------
    distance
        ``n x n`` integer distance matrix.
    demand
        Load of each node (depots 0), same unit as the vehicle capacities.
    vehicle_types
        The fleet.
    duration
        ``n x n`` integer travel-time matrix, or ``p x n x n`` for several speed profiles
        (see :attr:`VehicleType.profile`); defaults to ``distance``.
    num_depots
        How many leading nodes are depots.
    volume
        Optional second load dimension per node, checked against ``capacity_volume``.
    time_windows
        Optional ``(earliest, latest)`` service start per node; depots' windows are ignored
        (use the vehicle shifts).
    service_time
        Optional time spent at each node.
    penalty
        Optional cost of leaving each stop unserved; ``None`` entries are required stops.
    needs_refrigeration
        Optional flag per node: only refrigerated vehicles may serve it.
    allowed_vehicle_types
        Optional per node: a tuple of vehicle-type indices that may serve it (a "pin"), or
        ``None`` for any.
    coords
        Optional ``(x, y)`` or ``(lat, lon)`` per node, for maps only.
    names
        Optional label per node.
    distance_scale
        ``total_distance`` is reported as matrix units divided by this (Solomon: 10).
    name
        Instance name.
    """

    distance: np.ndarray
    demand: Sequence[int]
    vehicle_types: Sequence[VehicleType]
    duration: np.ndarray | None = None
    num_depots: int = 1
    volume: Sequence[int] | None = None
    time_windows: Sequence[tuple[int, int]] | None = None
    service_time: Sequence[int] | None = None
    penalty: Sequence[int | None] | None = None
    needs_refrigeration: Sequence[bool] | None = None
    allowed_vehicle_types: Sequence[tuple[int, ...] | None] | None = None
    coords: Sequence[tuple[float, float]] | None = None
    names: Sequence[str] | None = None
    distance_scale: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        dist = _int_matrix("distance", self.distance, None)[0]
        n = dist.shape[0]
        set_ = object.__setattr__
        set_(self, "distance", dist)
        dur = dist[None] if self.duration is None else _int_matrix("duration", self.duration, n)
        set_(self, "duration", dur)
        if n and not 1 <= self.num_depots <= n:
            raise ValueError(f"num_depots must be between 1 and {n}, got {self.num_depots}")
        if self.distance_scale <= 0:
            raise ValueError("distance_scale must be positive")
        set_(self, "vehicle_types", tuple(self.vehicle_types))

        def per_node(name: str, values: Sequence | None, default: object) -> tuple:
            if values is None:
                return tuple(default for _ in range(n))
            values = tuple(values)
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries but the problem has {n} nodes")
            return values

        demand = per_node("demand", self.demand, 0)
        if any(int(d) != d or d < 0 for d in demand):
            raise ValueError("demand must be non-negative integers")
        set_(self, "demand", tuple(int(d) for d in demand))
        volume = per_node("volume", self.volume, 0)
        if any(int(v) != v or v < 0 for v in volume):
            raise ValueError("volume must be non-negative integers")
        set_(self, "volume", tuple(int(v) for v in volume) if self.volume is not None else None)
        windows = per_node("time_windows", self.time_windows, (0, HORIZON))
        for i, (early, late) in enumerate(windows):
            if late < early:
                raise ValueError(f"node {i}: time window ({early}, {late}) closes before it opens")
        set_(self, "time_windows", tuple((int(e), int(la)) for e, la in windows))
        service = per_node("service_time", self.service_time, 0)
        if any(s < 0 for s in service):
            raise ValueError("service_time must be non-negative")
        set_(self, "service_time", tuple(int(s) for s in service))
        penalty = per_node("penalty", self.penalty, None)
        if any(p is not None and p < 0 for p in penalty):
            raise ValueError("penalty must be non-negative or None (required)")
        set_(self, "penalty", tuple(None if p is None else int(p) for p in penalty))
        cold = per_node("needs_refrigeration", self.needs_refrigeration, False)
        set_(self, "needs_refrigeration", tuple(bool(c) for c in cold))
        allowed = per_node("allowed_vehicle_types", self.allowed_vehicle_types, None)
        for i, a in enumerate(allowed):
            if a is not None and any(not 0 <= t < len(self.vehicle_types) for t in a):
                raise ValueError(f"node {i}: allowed vehicle types {a} are not all defined")
        set_(
            self,
            "allowed_vehicle_types",
            tuple(None if a is None else tuple(sorted(set(a))) for a in allowed),
        )
        if self.coords is not None:
            coords = per_node("coords", self.coords, None)
            for i, c in enumerate(coords):
                if c is None or len(c) != 2 or not np.all(np.isfinite(np.asarray(c, float))):
                    raise ValueError(f"node {i} has missing or non-finite coordinates: {c!r}")
            set_(self, "coords", tuple((float(x), float(y)) for x, y in coords))
        if self.names is not None:
            set_(self, "names", tuple(str(s) for s in per_node("names", self.names, "")))
        for d in range(min(self.num_depots, n)):
            if demand[d] or volume[d]:
                raise ValueError(f"depot {d} must have zero demand")
        for vt in self.vehicle_types:
            if not isinstance(vt, VehicleType):
                raise ValueError(f"vehicle_types must hold VehicleType, got {type(vt).__name__}")
            if not 0 <= vt.depot < max(self.num_depots, 1) or (n and vt.depot >= n):
                raise ValueError(f"vehicle type {vt.name!r}: depot {vt.depot} is not a depot node")
            if not 0 <= vt.profile < dur.shape[0]:
                raise ValueError(f"vehicle type {vt.name!r}: no duration profile {vt.profile}")

    @property
    def num_nodes(self) -> int:
        """Number of nodes, depots included."""
        return int(self.distance.shape[0])

    @property
    def stops(self) -> range:
        """Indices of the stop (non-depot) nodes."""
        return range(self.num_depots if self.num_nodes else 0, self.num_nodes)

    @property
    def num_vehicles(self) -> int:
        """Total number of vehicles over all types."""
        return sum(vt.count for vt in self.vehicle_types)

    def eligible_types(self, node: int) -> tuple[int, ...]:
        """Vehicle types that may serve ``node`` (refrigeration and pins applied)."""
        assert self.needs_refrigeration is not None and self.allowed_vehicle_types is not None
        allowed = self.allowed_vehicle_types[node]
        return tuple(
            t
            for t, vt in enumerate(self.vehicle_types)
            if (vt.refrigerated or not self.needs_refrigeration[node])
            and (allowed is None or t in allowed)
        )

    @property
    def has_time_windows(self) -> bool:
        """Whether any stop has a window narrower than the horizon or a service time."""
        assert self.time_windows is not None and self.service_time is not None
        return any(self.time_windows[i] != (0, HORIZON) or self.service_time[i] for i in self.stops)


@dataclass(frozen=True)
class Route:
    """One vehicle's tour: depot → stops → depot.

    ``arrivals[k]`` is when the vehicle reaches ``stops[k]``, ``starts[k]`` when service
    begins there (after waiting for the window), ``loads[k]`` the load on board on arrival,
    ``trips[k]`` the trip (0, 1, ...) it belongs to; between trips the vehicle reloads at
    its depot.
    """

    vehicle_type: int
    depot: int
    stops: tuple[int, ...]
    departure: int
    arrivals: tuple[int, ...]
    starts: tuple[int, ...]
    loads: tuple[int, ...]
    return_time: int
    distance: int
    load: int
    volume: int = 0
    trips: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.trips:
            object.__setattr__(self, "trips", (0,) * len(self.stops))

    @property
    def num_trips(self) -> int:
        """Number of depot departures."""
        return len(set(self.trips))

    @property
    def max_trip_load(self) -> int:
        """Largest load carried on one trip (the first load of each trip)."""
        return max(self.loads, default=0)

    @property
    def duration(self) -> int:
        """Time from departure to return."""
        return self.return_time - self.departure


@dataclass(frozen=True)
class Dropped:
    """A stop left out of the plan, why (text) and a stable reason ``code`` for UIs."""

    node: int
    reason: str
    code: str = ""


@dataclass(frozen=True)
class SolverStats:
    """What the solver did."""

    solver: str
    runtime_s: float
    iterations: int | None
    objective: int
    seed: int
    status: str = "ok"


@dataclass(frozen=True)
class RoutingPlan:
    """The solution of a :class:`RoutingProblem`.

    ``total_distance`` is in the instance's own unit (matrix units / ``distance_scale``) so
    it compares with published best-known values; ``distance_units`` is the integer sum.
    """

    routes: tuple[Route, ...]
    dropped: tuple[Dropped, ...]
    distance_units: int
    total_distance: float
    duration: int
    stats: SolverStats
    cost: int = 0
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def node_routes(self) -> list[list[int]]:
        """Routes as plain lists of stop node indices (depots left out)."""
        return [list(r.stops) for r in self.routes]
