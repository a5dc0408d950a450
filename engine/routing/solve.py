"""``solve``: screen out stops no vehicle can serve, run a backend, build a scheduled plan."""

from __future__ import annotations

import os
import time

import numpy as np

from engine.routing import backends
from engine.routing.problem import (
    HORIZON,
    Dropped,
    Route,
    RoutingPlan,
    RoutingProblem,
    SolverStats,
)

DEFAULT_SOLVER = "pyvrp"
# Independent PyVRP searches run at once, one per process (best kept); 1 = this process only.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))

REASONS = {
    "no_vehicle": "no vehicle in the fleet",
    "no_refrigerated": "needs refrigeration but no refrigerated vehicle is available",
    "no_allowed": "none of the vehicles it is pinned to can take it",
    "too_heavy": "load {load} exceeds the largest suitable vehicle capacity {cap}",
    "too_bulky": "volume {load} exceeds the largest suitable vehicle volume {cap}",
    "unreachable": "time window {window} cannot be met within any suitable vehicle's shift",
    "penalty": "left out: serving it costs more than its penalty {penalty}",
    "no_room": "the fleet has no room left (capacity or time) for this stop",
}


def _drop(node: int, code: str, **kw: object) -> Dropped:
    return Dropped(node=node, reason=REASONS[code].format(**kw), code=code)


def screen(problem: RoutingProblem) -> list[Dropped]:
    """Stops that no single vehicle can serve on its own, each with the reason.

    Parameters
    ----------
    problem
        The problem to screen.

    Returns
    -------
    list[Dropped]
        One entry per unservable stop, in node order.
    """
    p = problem
    assert p.time_windows is not None and p.service_time is not None and p.duration is not None
    assert p.needs_refrigeration is not None
    out = []
    for i in p.stops:
        fleet = [vt for vt in p.vehicle_types if vt.count > 0]
        if not fleet:
            out.append(_drop(i, "no_vehicle"))
            continue
        if p.needs_refrigeration[i]:
            fleet = [vt for vt in fleet if vt.refrigerated]
            if not fleet:
                out.append(_drop(i, "no_refrigerated"))
                continue
        eligible = set(p.eligible_types(i))
        fleet = [vt for t, vt in enumerate(p.vehicle_types) if t in eligible and vt.count > 0]
        if not fleet:
            out.append(_drop(i, "no_allowed"))
            continue
        biggest = max(vt.capacity for vt in fleet)
        if p.demand[i] > biggest:
            out.append(_drop(i, "too_heavy", load=p.demand[i], cap=biggest))
            continue
        fleet = [vt for vt in fleet if vt.capacity >= p.demand[i]]
        if p.volume is not None:
            vols = [HORIZON if vt.capacity_volume is None else vt.capacity_volume for vt in fleet]
            if p.volume[i] > max(vols):
                out.append(_drop(i, "too_bulky", load=p.volume[i], cap=max(vols)))
                continue
            fleet = [vt for vt, v in zip(fleet, vols, strict=True) if v >= p.volume[i]]
        early, late = p.time_windows[i]
        reachable = False
        for vt in fleet:
            dur = p.duration[vt.profile]
            start = max(vt.shift_start + int(dur[vt.depot, i]), early)
            back = start + p.service_time[i] + int(dur[i, vt.depot])
            reachable |= start <= late and back <= vt.shift_end
        if not reachable:
            out.append(_drop(i, "unreachable", window=(early, late)))
    return out


def _subproblem(p: RoutingProblem, keep: list[int], penalty: list[int | None]) -> RoutingProblem:
    idx = np.asarray(keep)
    pick = lambda seq: None if seq is None else [seq[i] for i in keep]  # noqa: E731
    return RoutingProblem(
        distance=p.distance[np.ix_(idx, idx)],
        duration=p.duration[:, idx][:, :, idx] if p.duration is not None else None,
        demand=[p.demand[i] for i in keep],
        vehicle_types=p.vehicle_types,
        num_depots=p.num_depots,
        volume=pick(p.volume),
        time_windows=pick(p.time_windows),
        service_time=pick(p.service_time),
        penalty=[penalty[i] for i in keep],
        needs_refrigeration=pick(p.needs_refrigeration),
        allowed_vehicle_types=pick(p.allowed_vehicle_types),
        coords=pick(p.coords),
        distance_scale=p.distance_scale,
        name=p.name,
    )


def schedule(
    problem: RoutingProblem,
    vehicle_type: int,
    stops: list[int] | tuple[int, ...],
    trips: list[int] | tuple[int, ...] | None = None,
) -> Route:
    """Earliest-time schedule of one route, leaving the depot as late as needed to not wait.

    Parameters
    ----------
    problem
        The problem the route belongs to.
    vehicle_type
        Index into ``problem.vehicle_types``.
    stops
        Stop nodes in visiting order (depot implicit at both ends).
    trips
        Trip number of each stop (non-decreasing from 0); between trips the vehicle goes
        back to its depot to reload. ``None`` = a single trip.

    Returns
    -------
    Route
        Arrival and service start times, loads on board, distance and return time.
    """
    p = problem
    assert p.time_windows is not None and p.service_time is not None and p.duration is not None
    vt = p.vehicle_types[vehicle_type]
    dur = p.duration[vt.profile]
    depot = vt.depot
    trips = tuple(trips) if trips is not None else (0,) * len(stops)
    if len(trips) != len(stops):
        raise ValueError("trips must give one trip number per stop")
    trip_load: dict[int, int] = {}
    for i, k in zip(stops, trips, strict=True):
        trip_load[k] = trip_load.get(k, 0) + p.demand[i]
    volume = sum(p.volume[i] for i in stops) if p.volume is not None else 0
    departure = vt.shift_start
    if stops:
        # Leave later instead of waiting at the first stop; later service times don't change.
        departure = max(departure, p.time_windows[stops[0]][0] - int(dur[depot, stops[0]]))
    t, prev, on_board, trip = departure, depot, 0, None
    arrivals, starts, loads = [], [], []
    distance = 0
    for i, k in zip(stops, trips, strict=True):
        if k != trip:
            if trip is not None:  # back to the depot to reload
                t += p.service_time[prev] + int(dur[prev, depot])
                distance += int(p.distance[prev, depot])
                prev = depot
            trip, on_board = k, trip_load[k]
        t += p.service_time[prev] if prev != depot else 0
        t += int(dur[prev, i])
        distance += int(p.distance[prev, i])
        arrivals.append(t)
        loads.append(on_board)
        t = max(t, p.time_windows[i][0])
        starts.append(t)
        on_board -= p.demand[i]
        prev = i
    if stops:
        t += p.service_time[prev] + int(dur[prev, depot])
        distance += int(p.distance[prev, depot])
    return Route(
        vehicle_type=vehicle_type,
        depot=depot,
        stops=tuple(stops),
        departure=departure,
        arrivals=tuple(arrivals),
        starts=tuple(starts),
        loads=tuple(loads),
        return_time=t,
        distance=distance,
        load=sum(trip_load.values()),
        volume=volume,
        trips=trips,
    )


def must_serve_penalty(p: RoutingProblem, node: int) -> int:
    """A drop penalty above any cost of serving ``node`` (own vehicle and round trip).

    Large enough that the solver only drops the stop when no vehicle has room, small enough
    that the solver's capacity and time-window penalties still dominate it (an astronomically
    large prize makes the search prefer overloaded routes).
    """
    max_unit = max((vt.unit_distance_cost for vt in p.vehicle_types), default=1)
    max_fixed = max((vt.fixed_cost for vt in p.vehicle_types), default=0)
    trip = max(int(p.distance[d, node] + p.distance[node, d]) for d in range(p.num_depots))
    return 2 * (max_unit * max(trip, 1) + max_fixed) + 1


def _violates(p: RoutingProblem, r: Route) -> int | None:
    """A stop to remove from ``r`` to move it towards feasibility, or ``None`` if feasible."""
    assert p.time_windows is not None and p.needs_refrigeration is not None
    vt = p.vehicle_types[r.vehicle_type]
    volume = p.volume
    for k in sorted(set(r.trips)):
        trip = [i for i, j in zip(r.stops, r.trips, strict=True) if j == k]
        if sum(p.demand[i] for i in trip) > vt.capacity:
            return max(trip, key=lambda i: p.demand[i])
        if volume is not None and vt.capacity_volume is not None:
            if sum(volume[i] for i in trip) > vt.capacity_volume:
                return max(trip, key=lambda i: volume[i])
    if len(set(r.trips)) > vt.max_trips:
        return r.stops[-1]
    wrong = [i for i in r.stops if r.vehicle_type not in p.eligible_types(i)]
    if wrong:
        return wrong[0]
    for i, start in zip(r.stops, r.starts, strict=True):
        if start > p.time_windows[i][1]:
            return i
    if r.stops and r.return_time > vt.shift_end:
        return r.stops[-1]
    return None


def _repair(p: RoutingProblem, routes: list[Route]) -> tuple[list[Route], list[int]]:
    """Remove stops from infeasible routes (a backend returning its best infeasible answer)."""
    out, removed = [], []
    for r in routes:
        while (bad := _violates(p, r)) is not None:
            removed.append(bad)
            keep = [(i, k) for i, k in zip(r.stops, r.trips, strict=True) if i != bad]
            r = schedule(p, r.vehicle_type, [i for i, _ in keep], [k for _, k in keep])
        if r.stops:
            out.append(r)
    return out, removed


def solve(
    problem: RoutingProblem,
    time_limit_s: float = 10,
    solver: str | None = None,
    seed: int = 0,
    *,
    cpu_time: bool = False,
    workers: int | None = None,
    iterations: int | None = None,
) -> RoutingPlan:
    """Plan routes for a :class:`RoutingProblem`.

    Stops no vehicle could serve even alone (too heavy, needs refrigeration, window out of
    every shift) are dropped with a reason before solving. If the fleet cannot serve all
    required stops together, the solve is repeated with them droppable at a prohibitive
    penalty, and the ones left out are reported with reason code ``no_room``.

    Parameters
    ----------
    problem
        The problem to solve.
    time_limit_s
        Wall-clock budget of the call, in seconds, counted from entry so set-up is included
        (tiny problems stop earlier).
    solver
        ``"pyvrp"`` (default: best measured gaps, see ``bench/routing.py``) or ``"ortools"``.
    seed
        Random seed of the search.
    cpu_time
        Count ``time_limit_s`` in CPU seconds of this process instead of wall-clock seconds
        (PyVRP only), so benchmarks on a busy machine measure the algorithm, not the load;
        with several workers each gets that many CPU seconds of its own process.
    workers
        PyVRP only: independent searches run at once in separate processes (different seeds;
        on a plain CVRP the second is limited to the fewest vehicles the load needs), best
        kept. ``None`` = :data:`DEFAULT_WORKERS` (2 on a machine with 2 or more cores),
        ``1`` = this process only (on a plain CVRP the two searches one after the other,
        half the budget each).
    iterations
        PyVRP only: stop each search after this many iterations instead of on the clock
        (``time_limit_s`` is then unused). With ``workers=1`` the plan is reproducible: the
        same problem and seed give the same routes on any machine and load.

    Returns
    -------
    RoutingPlan
        Scheduled routes, dropped stops with reasons, distance in the instance's unit.

    Raises
    ------
    ValueError
        When ``solver`` is unknown, ``time_limit_s`` is not positive, ``iterations`` is not
        a positive integer, or ``iterations`` is asked of OR-Tools.
    """
    started = time.monotonic()
    name = solver or DEFAULT_SOLVER
    workers = DEFAULT_WORKERS if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if name not in backends.BACKENDS:
        raise ValueError(f"unknown solver {name!r}; choose one of {sorted(backends.BACKENDS)}")
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
    if iterations is not None and (
        isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1
    ):
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    budget = {} if iterations is None else {"iterations": iterations}
    p = problem
    assert p.penalty is not None
    dropped = screen(p)
    out = {d.node for d in dropped}
    keep = [*range(p.num_depots), *(i for i in p.stops if i not in out)]
    runtime, iterations, status = 0.0, None, "empty"
    routes: list[Route] = []
    if len(keep) > p.num_depots:
        penalty = list(p.penalty)
        sub = _subproblem(p, keep, penalty)
        assert sub.penalty is not None
        required = sum(sub.demand[j] for j in sub.stops if sub.penalty[j] is None)
        fleet = sum(vt.capacity * vt.count * vt.max_trips for vt in p.vehicle_types)
        result = None
        if required <= fleet:
            result = backends.BACKENDS[name](
                sub, time_limit_s, seed, cpu_time, workers=workers, started=started, **budget
            )
            runtime, iterations, status = result.runtime_s, result.iterations, result.status
        else:
            status = "fleet capacity below required load"
        forced: set[int] = set()
        if result is None or not result.feasible:
            forced = {keep[j] for j in sub.stops if penalty[keep[j]] is None}
        # With every stop droppable already, a second solve would repeat the first one;
        # the repair step below makes the answer feasible instead.
        if forced:
            relaxed = [
                must_serve_penalty(p, i) if i in forced else penalty[i] for i in range(p.num_nodes)
            ]
            sub = _subproblem(p, keep, relaxed)
            # A second budget of its own: the stops must be planned, even if late.
            result = backends.BACKENDS[name](
                sub, time_limit_s, seed + 1, cpu_time, workers=workers, **budget
            )
            runtime += result.runtime_s
            status = f"{status}; relaxed: {result.status}"
        assert result is not None
        for vt_index, stops, trips in result.routes:
            routes.append(schedule(p, vt_index, [keep[j] for j in stops], trips))
        routes, removed = _repair(p, routes)
        if removed:
            status += f"; {len(removed)} stops removed to restore feasibility"
        dropped += [_drop(node, "no_room") for node in removed]
        for j in result.unserved:
            node = keep[j]
            if node in forced:
                dropped.append(_drop(node, "no_room"))
            else:
                dropped.append(_drop(node, "penalty", penalty=p.penalty[node]))
    dropped.sort(key=lambda d: d.node)
    units = sum(r.distance for r in routes)
    cost = sum(
        p.vehicle_types[r.vehicle_type].fixed_cost
        + p.vehicle_types[r.vehicle_type].unit_distance_cost * r.distance
        for r in routes
    ) + sum(p.penalty[d.node] or 0 for d in dropped if d.code == "penalty")
    return RoutingPlan(
        routes=tuple(routes),
        dropped=tuple(dropped),
        distance_units=units,
        total_distance=units / p.distance_scale,
        duration=sum(r.duration for r in routes),
        cost=cost,
        stats=SolverStats(
            solver=name,
            runtime_s=runtime,
            iterations=iterations,
            objective=cost,
            seed=seed,
            status=status,
        ),
    )


def _solve_group(
    problems: list[RoutingProblem],
    budgets: list[float],
    solver: str | None,
    seed: int,
    cpu_time: bool,
) -> list[RoutingPlan]:
    """Solve problems one after another, each with one search (a worker process's share)."""
    return [
        solve(p, t, solver=solver, seed=seed, cpu_time=cpu_time, workers=1)
        for p, t in zip(problems, budgets, strict=True)
    ]


def solve_many(
    problems: list[RoutingProblem],
    time_limit_s: float = 10,
    solver: str | None = None,
    seed: int = 0,
    *,
    cpu_time: bool = False,
    workers: int | None = None,
    min_time_s: float = 1.0,
) -> list[RoutingPlan]:
    """Solve independent problems (e.g. one per warehouse) within one overall budget.

    With ``workers`` processes the problems are packed into that many groups of about equal
    stop counts (largest first into the lightest group); the groups run at once, the first in
    this process. Within a group the ``time_limit_s`` budget is shared by stop counts, so
    each problem gets ``workers`` times what a single process could give it, and the whole
    call takes about ``time_limit_s`` of wall-clock time. A single problem instead gets all
    the workers as parallel searches (see :func:`solve`).

    Parameters
    ----------
    problems
        The problems.
    time_limit_s
        Wall-clock budget of the whole call (each problem gets at least ``min_time_s``).
    solver, seed, cpu_time
        As in :func:`solve`.
    workers
        Processes to use; ``None`` = :data:`DEFAULT_WORKERS`.
    min_time_s
        Floor of any one problem's share.

    Returns
    -------
    list[RoutingPlan]
        One plan per problem, in order.
    """
    workers = DEFAULT_WORKERS if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not problems:
        return []
    if len(problems) == 1:
        plan = solve(problems[0], time_limit_s, solver, seed, cpu_time=cpu_time, workers=workers)
        return [plan]
    size = [max(len(p.stops), 1) for p in problems]
    groups: list[list[int]] = [[] for _ in range(min(workers, len(problems)))]
    load = [0] * len(groups)
    for k in sorted(range(len(problems)), key=lambda k: -size[k]):
        g = load.index(min(load))
        groups[g].append(k)
        load[g] += size[k]
    floor = min(min_time_s, time_limit_s)
    budget = {
        k: max(floor, time_limit_s * size[k] / load[g]) for g, ks in enumerate(groups) for k in ks
    }
    args = [
        ([problems[k] for k in ks], [budget[k] for k in ks], solver, seed, cpu_time)
        for ks in groups
    ]
    results: dict[int, RoutingPlan] = {}
    pending = []
    pool = None
    if len(groups) > 1:
        from concurrent.futures import ProcessPoolExecutor

        try:
            pool = ProcessPoolExecutor(len(groups) - 1, mp_context=backends._pool_context())
            pending = [(g, pool.submit(_solve_group, *args[g])) for g in range(1, len(groups))]
        except (OSError, ValueError, RuntimeError):  # no worker processes: all here
            pool, pending = None, []
    try:
        done = {0} | {g for g, _ in pending}
        for k, plan in zip(groups[0], _solve_group(*args[0]), strict=True):
            results[k] = plan
        for g, fut in pending:
            try:
                plans = fut.result(timeout=None if cpu_time else 60 + 2 * time_limit_s)
            except Exception:  # a failed worker must not lose its problems: solve them here
                done.discard(g)
                continue
            results.update(zip(groups[g], plans, strict=True))
        for g in range(len(groups)):
            if g not in done:
                results.update(zip(groups[g], _solve_group(*args[g]), strict=True))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return [results[k] for k in range(len(problems))]
