"""Solver backends behind :func:`engine.routing.solve`: PyVRP (default) and OR-Tools.

Each backend takes a :class:`RoutingProblem` whose stops can all be served by some vehicle
on their own (``solve`` has dropped the others) and returns the chosen stop sequences.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.routing.problem import HORIZON, RoutingProblem


@dataclass(frozen=True)
class BackendResult:
    """Raw backend output: ``(vehicle_type, stops)`` per used vehicle and unserved stops."""

    routes: tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]  # type, stops, trips
    unserved: tuple[int, ...]
    feasible: bool
    runtime_s: float
    iterations: int | None
    status: str


def _load_dims(p: RoutingProblem) -> tuple[list[list[int]], list[list[int]]]:
    """Per-stop delivery vectors and per-vehicle-type capacity vectors.

    Dimensions: weight; volume when any vehicle limits it; then one "slot" dimension per
    distinct set of eligible vehicle types (refrigeration, pins): 1 per stop restricted to that
    set, capacity 0 on the other vehicles. This turns "only these vehicles" into an ordinary
    capacity constraint both solvers understand.
    """
    stops = list(p.stops)
    use_volume = p.volume is not None and any(
        vt.capacity_volume is not None for vt in p.vehicle_types
    )
    every = tuple(range(len(p.vehicle_types)))
    groups: dict[tuple[int, ...], set[int]] = {}
    for i in stops:
        eligible = p.eligible_types(i)
        if eligible != every:
            groups.setdefault(eligible, set()).add(i)
    demand = [[p.demand[i]] for i in stops]
    caps = [[vt.capacity] for vt in p.vehicle_types]
    if use_volume:
        assert p.volume is not None
        total_volume = sum(p.volume)
        for row, i in zip(demand, stops, strict=True):
            row.append(p.volume[i])
        for cap, vt in zip(caps, p.vehicle_types, strict=True):
            cap.append(total_volume if vt.capacity_volume is None else vt.capacity_volume)
    for eligible, members in groups.items():
        for row, i in zip(demand, stops, strict=True):
            row.append(1 if i in members else 0)
        for t, cap in enumerate(caps):
            cap.append(len(members) if t in eligible else 0)
    return demand, caps


# PyVRP ILS settings for ~10-second budgets. The defaults (late-acceptance history 300, restart
# after 150,000 idle iterations) suit minutes-long runs: in 10 s the search never restarts and
# can sit in one local optimum. History 100 roughly halved the summed gap on five benchmark
# instances, and a restart after 2,000 idle iterations took M-n151-k12 from 1.8 % to 1.0 %
# at 10 CPU-seconds (see docs/routing.md).
HISTORY_LENGTH = 100
RESTART_AFTER = 2_000


def _solve_params():
    from pyvrp import IteratedLocalSearchParams, SolveParams

    return SolveParams(
        ils=IteratedLocalSearchParams(
            history_length=HISTORY_LENGTH, num_iters_no_improvement=RESTART_AFTER
        )
    )


def _savings_applies(p: RoutingProblem) -> bool:
    """Savings starts suit one depot, one unlimited-ish vehicle type, weight only, no windows."""
    assert p.needs_refrigeration is not None and p.allowed_vehicle_types is not None
    return (
        p.num_depots == 1
        and len(p.vehicle_types) == 1
        and p.vehicle_types[0].count >= len(p.stops)
        and not p.has_time_windows
        and not any(p.needs_refrigeration)
        and all(a is None for a in p.allowed_vehicle_types)
        and p.vehicle_types[0].capacity_volume is None
        and bool(np.array_equal(p.distance, p.distance.T))
    )


def savings(distance: np.ndarray, demand, capacity: int) -> list[list[int]]:
    """Clarke-Wright parallel savings routes (stop nodes, single depot 0, symmetric)."""
    n = len(demand)
    route_of: dict[int, list[int]] = {i: [i] for i in range(1, n)}
    load: dict[int, int] = {id(r): demand[r[0]] for r in route_of.values()}  # by id(route)
    i_idx, j_idx = np.triu_indices(n - 1, 1)
    i_idx, j_idx = i_idx + 1, j_idx + 1
    gain = distance[0, i_idx] + distance[0, j_idx] - distance[i_idx, j_idx]
    for k in np.argsort(-gain, kind="stable"):
        if gain[k] <= 0:
            break
        i, j = int(i_idx[k]), int(j_idx[k])
        ri, rj = route_of[i], route_of[j]
        if ri is rj or load[id(ri)] + load[id(rj)] > capacity:
            continue
        if ri[-1] != i:
            if ri[0] != i:
                continue
            ri.reverse()
        if rj[0] != j:
            if rj[-1] != j:
                continue
            rj.reverse()
        merged = ri + rj
        load[id(merged)] = load.pop(id(ri)) + load.pop(id(rj))
        for c in merged:
            route_of[c] = merged
    unique = {id(r): r for r in route_of.values()}
    return list(unique.values())


class _MaxCpuTime:
    """PyVRP stopping criterion on this process's CPU time (fair on a shared machine)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start: float | None = None

    def __call__(self, best_cost: float) -> bool:
        now = time.process_time()
        if self.start is None:
            self.start = now
        return now - self.start > self.seconds


class _Deadline:
    """PyVRP stopping criterion at an absolute ``time.monotonic()`` instant.

    The clock is system-wide, so a search in a worker process stops at the same instant as
    the one in the calling process, and set-up time counts against the budget.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, best_cost: float) -> bool:
        return time.monotonic() >= self.deadline


@dataclass(frozen=True)
class _Budget:
    """When one search stops: a wall-clock deadline, or CPU seconds of its own process."""

    deadline: float
    cpu_seconds: float | None = None
    patience: int | None = None  # also stop after this many iterations without improvement
    iterations: int | None = None  # a fixed iteration budget instead of the clock


@dataclass(frozen=True)
class _Outcome:
    routes: list[tuple[int, list[int], list[int]]]  # vehicle type, client indices, trips
    cost: float
    feasible: bool
    iterations: int
    strategy: str


def _search(data: Any, init: list[list[int]] | None, seed: int, budget: _Budget, strategy: str):
    """One PyVRP run; a top-level function so a worker process can run it too."""
    import pyvrp
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MaxIterations, MultipleCriteria, NoImprovement, StoppingCriterion

    stop: StoppingCriterion
    if budget.iterations is not None:
        # Reproducible: the same problem, seed and iteration count give the same routes.
        stop = MaxIterations(budget.iterations)
    elif budget.cpu_seconds is not None:
        stop = _MaxCpuTime(budget.cpu_seconds)
    else:
        stop = _Deadline(budget.deadline)
    if budget.patience:
        stop = MultipleCriteria([stop, NoImprovement(budget.patience)])
    initial = pyvrp.Solution(data, init) if init is not None else None
    with warnings.catch_warnings():
        # Infeasible results are handled by the caller (it relaxes and re-solves).
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(
            data,
            stop,
            seed=seed,
            collect_stats=False,
            display=False,
            params=_solve_params(),
            initial_solution=initial,
        )
    routes = []
    for route in result.best.routes():
        visits = [a for a in route if a.is_client()]
        routes.append((route.vehicle_type(), [a.idx for a in visits], [a.trip for a in visits]))
    return _Outcome(routes, result.cost(), result.is_feasible(), result.num_iterations, strategy)


def tight_fleet(p: RoutingProblem) -> int | None:
    """Fewest vehicles a plain CVRP's load needs (``ceil(total demand / capacity)``), if useful.

    Only for one depot, one vehicle type with at least that many vehicles more than needed,
    no time windows: the instance convention of unlimited fleets (CVRPLIB). A search limited
    to this many vehicles explores the packed solutions the unlimited search rarely reaches
    (it settles one route above), which are often the shortest when loads are tight.
    """
    if not _savings_applies(p):
        return None
    vt = p.vehicle_types[0]
    need = max(1, -(-sum(p.demand) // max(vt.capacity, 1)))
    return need if need < vt.count else None


def _pool_context():
    """Start method of worker processes: ``fork`` on Linux, else ``spawn``.

    A forked worker starts in milliseconds with the problem already in memory, and it does
    not re-run the caller's ``__main__`` (``spawn``/``forkserver`` re-import it, which re-runs
    any script without an ``if __name__ == "__main__"`` guard). Workers only run PyVRP and
    NumPy code and leave with ``os._exit``, so the parent's other threads (Streamlit, DuckDB)
    are not touched.
    """
    import multiprocessing as mp
    import sys

    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _run_searches(jobs: list[tuple]) -> tuple[list[_Outcome], list[str]]:
    """Run ``_search`` on each job: the first here, the others in worker processes at once."""
    if len(jobs) == 1:
        return [_search(*jobs[0])], []
    from concurrent.futures import ProcessPoolExecutor

    outcomes, errors = [], []
    try:
        pool = ProcessPoolExecutor(max_workers=len(jobs) - 1, mp_context=_pool_context())
        futures = [pool.submit(_search, *job) for job in jobs[1:]]
    except (OSError, ValueError, RuntimeError) as exc:  # no processes here: search alone
        errors.append(f"worker processes unavailable ({exc})")
        futures, pool = [], None
    try:
        outcomes.append(_search(*jobs[0]))
        for fut in futures:
            try:
                budget = jobs[0][3]
                wait = None if budget.cpu_seconds else 60 + budget.deadline - time.monotonic()
                outcomes.append(fut.result(timeout=wait))
            except Exception as exc:  # a failed helper search must not fail the plan
                errors.append(f"worker search failed ({type(exc).__name__}: {exc})")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return outcomes, errors


def _problem_data(p: RoutingProblem):
    """PyVRP ``ProblemData`` of ``p`` (clients are the stops in node order)."""
    import pyvrp

    coords = p.coords or [(0.0, 0.0)] * p.num_nodes
    locations = [pyvrp.Location(float(x), float(y)) for x, y in coords]
    depots = [pyvrp.Depot(location=d) for d in range(p.num_depots)]
    demand, caps = _load_dims(p)
    assert p.time_windows is not None and p.service_time is not None and p.penalty is not None
    clients = []
    for row, i in zip(demand, p.stops, strict=True):
        early, late = p.time_windows[i]
        clients.append(
            pyvrp.Client(
                location=i,
                delivery=row,
                service_duration=p.service_time[i],
                tw_early=early,
                tw_late=late,
                prize=p.penalty[i] or 0,
                required=p.penalty[i] is None,
            )
        )
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=vt.count,
            capacity=cap,
            start_depot=vt.depot,
            end_depot=vt.depot,
            fixed_cost=vt.fixed_cost,
            tw_early=vt.shift_start,
            tw_late=vt.shift_end,
            unit_distance_cost=vt.unit_distance_cost,
            profile=vt.profile,
            reload_depots=[vt.depot] if vt.max_trips > 1 else [],
            max_reloads=vt.max_trips - 1,
        )
        for vt, cap in zip(p.vehicle_types, caps, strict=True)
    ]
    assert p.duration is not None
    durations: list[Any] = [np.ascontiguousarray(m) for m in p.duration]
    distances: list[Any] = [np.ascontiguousarray(p.distance) for _ in durations]
    return pyvrp.ProblemData(locations, clients, depots, vehicle_types, distances, durations)


def solve_pyvrp(
    p: RoutingProblem,
    time_limit_s: float,
    seed: int,
    cpu_time: bool = False,
    workers: int = 1,
    started: float | None = None,
    iterations: int | None = None,
) -> BackendResult:
    """Solve with PyVRP's iterated local search (v0.14).

    ``workers`` > 1 runs that many independent searches at once, one per process (the
    calling one included), and keeps the best: search ``k`` uses seed ``seed + k``; on a
    plain CVRP the second one is limited to the fewest vehicles the load needs
    (:func:`tight_fleet`). With ``workers=1`` a plain CVRP gets those two searches one after
    the other, half the budget each. The wall-clock budget runs from ``started`` (``time.monotonic()``,
    default now), so set-up and process start count against it. ``cpu_time`` instead gives
    each search ``time_limit_s`` CPU seconds of its own process. ``iterations`` replaces
    the clock by a fixed number of iterations per search (split in two halves when the two
    searches run one after the other), which makes the result reproducible.
    """
    t0 = time.monotonic() if started is None else started
    wall0 = time.perf_counter()
    data = _problem_data(p)
    init = None
    if _savings_applies(p):
        first = p.num_depots
        routes0 = savings(p.distance, p.demand, p.vehicle_types[0].capacity)
        init = [[i - first for i in r] for r in routes0]
    # Tiny problems converge in milliseconds; don't sit out the whole time limit.
    patience = 1_000 if len(p.stops) <= 20 else None
    budget = _Budget(t0 + time_limit_s, time_limit_s if cpu_time else None, patience, iterations)
    jobs: list[tuple] = [(data, init, seed, budget, "all vehicles")]
    tight = tight_fleet(p)
    limited = None
    if tight is not None:
        vt = data.vehicle_type(0)
        limited = data.replace(vehicle_types=[vt.replace(num_available=tight)])
    for k in range(1, max(1, workers)):
        if k == 1 and limited is not None:
            jobs.append((limited, None, seed + k, budget, f"{tight} vehicles"))
        else:
            jobs.append((data, init, seed + k, budget, "all vehicles"))
    how = "parallel"
    if len(jobs) == 1 and limited is not None:
        # One process: the same two searches one after the other, half the budget each.
        how = "consecutive"
        half = time_limit_s / 2
        split = None if iterations is None else max(1, iterations // 2)
        early = _Budget(t0 + half, half if cpu_time else None, patience, split)
        late = _Budget(t0 + time_limit_s, half if cpu_time else None, patience, split)
        outcomes = [
            _search(data, init, seed, early, "all vehicles"),
            _search(limited, None, seed + 1, late, f"{tight} vehicles"),
        ]
        errors: list[str] = []
    else:
        outcomes, errors = _run_searches(jobs)
    best = min(outcomes, key=lambda o: (not o.feasible, o.cost))
    first = p.num_depots
    routes = []
    served: set[int] = set()
    for vt_index, clients, trip_ids in best.routes:
        stops = tuple(first + c for c in clients)
        served.update(stops)
        rank = {t: k for k, t in enumerate(sorted(set(trip_ids)))}
        routes.append((vt_index, stops, tuple(rank[t] for t in trip_ids)))
    unserved = tuple(i for i in p.stops if i not in served)
    status = "ok" if best.feasible else "infeasible"
    if len(outcomes) > 1:
        status += f"; best of {len(outcomes)} {how} searches ({best.strategy})"
    for e in errors:
        status += f"; {e}"
    return BackendResult(
        tuple(routes),
        unserved,
        best.feasible,
        time.perf_counter() - wall0,
        sum(o.iterations for o in outcomes),
        status,
    )


def solve_ortools(
    p: RoutingProblem,
    time_limit_s: float,
    seed: int,
    cpu_time: bool = False,
    workers: int = 1,
    started: float | None = None,
    iterations: int | None = None,
) -> BackendResult:
    """Solve with OR-Tools routing: cheapest-insertion start, guided local search.

    ``seed`` is accepted for interface symmetry; OR-Tools' routing search is deterministic.
    Every vehicle makes a single trip here (``max_trips`` is not modelled). OR-Tools limits
    wall-clock time only, so ``cpu_time`` is ignored; it runs one search (``workers`` is
    ignored). Its time limit is what is left of ``time_limit_s`` since ``started``; it has no
    iteration budget (``iterations`` raises).
    """
    if iterations is not None:
        raise ValueError("an iteration budget is PyVRP only; OR-Tools stops on the clock")
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    assert p.time_windows is not None and p.service_time is not None and p.penalty is not None
    assert p.duration is not None
    n = p.num_nodes
    vehicle_type_of = [t for t, vt in enumerate(p.vehicle_types) for _ in range(vt.count)]
    num_vehicles = len(vehicle_type_of)
    depot_of = [p.vehicle_types[t].depot for t in vehicle_type_of]
    manager = pywrapcp.RoutingIndexManager(n, num_vehicles, depot_of, depot_of)
    model = pywrapcp.RoutingModel(manager)

    dist = p.distance.tolist()
    unit_costs = sorted({vt.unit_distance_cost for vt in p.vehicle_types})
    cost_cb = {
        u: model.RegisterTransitMatrix(dist if u == 1 else (p.distance * u).tolist())
        for u in unit_costs
    }
    for v, t in enumerate(vehicle_type_of):
        vt = p.vehicle_types[t]
        model.SetArcCostEvaluatorOfVehicle(cost_cb[vt.unit_distance_cost], v)
        model.SetFixedCostOfVehicle(vt.fixed_cost, v)

    demand, caps = _load_dims(p)
    stops = list(p.stops)
    for dim in range(len(demand[0]) if demand else 0):
        vector = [0] * n
        for row, i in zip(demand, stops, strict=True):
            vector[i] = row[dim]
        cb = model.RegisterUnaryTransitVector(vector)
        model.AddDimensionWithVehicleCapacity(
            cb, 0, [caps[t][dim] for t in vehicle_type_of], True, f"load{dim}"
        )

    horizon = max([vt.shift_end for vt in p.vehicle_types if vt.shift_end < HORIZON] or [0])
    horizon = max(horizon, max((la for _, la in p.time_windows if la < HORIZON), default=0))
    if p.has_time_windows or horizon:
        service = np.asarray(p.service_time, dtype=np.int64)
        time_cb = [model.RegisterTransitMatrix((m + service[:, None]).tolist()) for m in p.duration]
        cap = int(horizon or (p.duration.max() + service.max()) * (n + 1))
        model.AddDimensionWithVehicleTransits(
            [time_cb[p.vehicle_types[t].profile] for t in vehicle_type_of],
            cap,
            cap,
            False,
            "time",
        )
        time_dim = model.GetDimensionOrDie("time")
        for i in stops:
            early, late = p.time_windows[i]
            time_dim.CumulVar(manager.NodeToIndex(i)).SetRange(early, min(late, cap))
        for v, t in enumerate(vehicle_type_of):
            vt = p.vehicle_types[t]
            end = min(vt.shift_end, cap)
            time_dim.CumulVar(model.Start(v)).SetRange(min(vt.shift_start, end), end)
            time_dim.CumulVar(model.End(v)).SetMax(end)
            model.AddVariableMinimizedByFinalizer(time_dim.CumulVar(model.Start(v)))

    used_depots = set(depot_of)
    for d in range(p.num_depots):
        if d not in used_depots:
            # A depot no vehicle uses is still a node to OR-Tools; let it be skipped for free.
            model.AddDisjunction([manager.NodeToIndex(d)], 0)
    for i in stops:
        if p.penalty[i] is not None:
            model.AddDisjunction([manager.NodeToIndex(i)], p.penalty[i])

    params = pywrapcp.DefaultRoutingSearchParameters()
    strategy = routing_enums_pb2.FirstSolutionStrategy
    params.first_solution_strategy = (
        strategy.PARALLEL_CHEAPEST_INSERTION if p.has_time_windows else strategy.SAVINGS
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    if started is not None:
        time_limit_s -= time.monotonic() - started
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    start = time.perf_counter()
    solution = model.SolveWithParameters(params)
    runtime = time.perf_counter() - start
    if solution is None:
        return BackendResult((), tuple(stops), False, runtime, None, "no solution found")
    routes = []
    served: set[int] = set()
    for v in range(num_vehicles):
        index = solution.Value(model.NextVar(model.Start(v)))
        seq = []
        while not model.IsEnd(index):
            seq.append(manager.IndexToNode(index))
            index = solution.Value(model.NextVar(index))
        if seq:
            routes.append((vehicle_type_of[v], tuple(seq), (0,) * len(seq)))
            served.update(seq)
    unserved = tuple(i for i in stops if i not in served)
    return BackendResult(tuple(routes), unserved, True, runtime, None, "ok")


BACKENDS = {"pyvrp": solve_pyvrp, "ortools": solve_ortools}
