"""Tests of engine.routing: readers, both solvers, the independent checker, bad input."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from engine import routing
from engine.routing import backends, check
from engine.routing.problem import Route, RoutingPlan, SolverStats

DATA = Path(__file__).resolve().parent.parent / "data" / "vrp"
INSTANCES = sorted(p for p in DATA.iterdir() if p.suffix in (".vrp", ".txt"))
SOLVERS = ["pyvrp", "ortools"]


def plan_from_routes(problem, routes, vehicle_type=0):
    """A plan holding the given stop sequences, scheduled by the solver-side scheduler."""
    scheduled = tuple(routing.schedule(problem, vehicle_type, r) for r in routes)
    units = sum(r.distance for r in scheduled)
    return RoutingPlan(
        routes=scheduled,
        dropped=(),
        distance_units=units,
        total_distance=units / problem.distance_scale,
        duration=0,
        stats=SolverStats("given", 0.0, None, units, 0),
    )


def random_problem(seed, n_stops=7, windows=False, capacity=15, count=3):
    """A small random instance on integer coordinates."""
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 100, size=(n_stops + 1, 2))
    dist = np.floor(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 0.5)
    demand = [0, *rng.integers(1, 10, size=n_stops).tolist()]
    tw = None
    service = None
    if windows:
        early = rng.integers(0, 150, size=n_stops)
        tw = [(0, 400), *((int(e), int(e) + 60) for e in early)]
        service = [0, *[5] * n_stops]
    return routing.RoutingProblem(
        distance=dist.astype(int),
        demand=demand,
        vehicle_types=[routing.VehicleType(capacity=capacity, count=count, shift_end=400)],
        time_windows=tw,
        service_time=service,
    )


def brute_force(problem):
    """Optimal distance of a tiny single-depot problem by enumerating every route set."""
    stops = list(problem.stops)
    vt = problem.vehicle_types[0]
    best_route: dict[frozenset, int] = {}
    for size in range(1, len(stops) + 1):
        for subset in itertools.combinations(stops, size):
            if sum(problem.demand[i] for i in subset) > vt.capacity:
                continue
            best = None
            for order in itertools.permutations(subset):
                t, prev, ok, d = vt.shift_start, 0, True, 0
                for i in order:
                    t += problem.service_time[prev] + int(problem.duration[0][prev, i])
                    d += int(problem.distance[prev, i])
                    t = max(t, problem.time_windows[i][0])
                    if t > problem.time_windows[i][1]:
                        ok = False
                        break
                    prev = i
                t += problem.service_time[prev] + int(problem.duration[0][prev, 0])
                d += int(problem.distance[prev, 0])
                if ok and t <= vt.shift_end and (best is None or d < best):
                    best = d
            if best is not None:
                best_route[frozenset(subset)] = best
    # Partition DP: cheapest cover of each subset using at most k routes.
    full = frozenset(stops)
    layer = {frozenset(): 0}
    answer = None
    for _ in range(vt.count):
        nxt = dict(layer)
        for covered, cost in layer.items():
            rest = full - covered
            if not rest:
                continue
            anchor = min(rest)  # each route set counted once: the route holding the smallest
            for subset, d in best_route.items():
                if anchor in subset and not subset & covered:
                    key = covered | subset
                    if cost + d < nxt.get(key, 1 << 60):
                        nxt[key] = cost + d
        layer = nxt
        if full in layer:
            answer = layer[full] if answer is None else min(answer, layer[full])
    return answer


@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_every_benchmark_instance_loads(path):
    """Every copied CVRPLIB/Solomon instance reads into a consistent RoutingProblem."""
    problem = routing.read_instance(path)
    n_customers = int(path.stem.split("-n")[1].split("-")[0]) - 1 if "-n" in path.stem else 100
    assert problem.num_nodes == n_customers + 1
    assert problem.demand[0] == 0 and all(problem.demand[i] > 0 for i in problem.stops)
    assert problem.distance.shape == (problem.num_nodes, problem.num_nodes)
    assert np.array_equal(problem.distance, problem.distance.T)


@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_bks_solution_rescores_to_published_value(path):
    """Each published best-known solution costs exactly its stated value and passes the checker."""
    problem = routing.read_instance(path)
    routes, cost = routing.read_solution(path.with_suffix(".sol"))
    assert routing.route_distance(problem, routes) == pytest.approx(cost, abs=1e-9)
    plan = plan_from_routes(problem, routes)
    assert plan.total_distance == pytest.approx(cost, abs=1e-9)
    assert check.violations(problem, plan) == []


def test_solomon_distance_is_truncated_to_one_decimal():
    """Solomon distances are floor(10·d): C101 node 0→1 is sqrt(45+0)=... truncated, not rounded."""
    problem = routing.read_instance(DATA / "C101.txt")
    xy = np.array(problem.coords)
    d = np.hypot(*(xy[0] - xy[1]))
    assert problem.distance[0, 1] == int(np.floor(10 * d))
    assert problem.distance_scale == 10


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tiny_cvrp_matches_brute_force(solver, seed):
    """On 7-stop CVRPs both solvers find the brute-force optimum."""
    problem = random_problem(seed)
    optimum = brute_force(problem)
    plan = routing.solve(problem, time_limit_s=0.5, solver=solver, seed=seed)
    assert check.violations(problem, plan) == []
    assert plan.distance_units == optimum


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", [4, 5])
def test_tiny_vrptw_matches_brute_force(solver, seed):
    """On 7-stop VRPTWs both solvers find the brute-force optimum and respect windows."""
    problem = random_problem(seed, windows=True, count=4)
    optimum = brute_force(problem)
    assert optimum is not None
    plan = routing.solve(problem, time_limit_s=0.5, solver=solver, seed=seed)
    assert check.violations(problem, plan) == []
    assert plan.distance_units == optimum


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["P-n101-k4.vrp", "RC101.txt"])
def test_benchmark_plans_are_feasible(solver, name):
    """A short solve of a CVRP and a tight VRPTW instance serves every stop feasibly."""
    problem = routing.read_instance(DATA / name)
    plan = routing.solve(problem, time_limit_s=1, solver=solver)
    assert check.violations(problem, plan) == []
    assert not plan.dropped


def mixed_fleet_problem():
    """Two depots, a refrigerated and a dry type, volumes, shifts and an optional stop."""
    rng = np.random.default_rng(11)
    n = 14
    xy = rng.integers(0, 60, size=(n, 2))
    dist = np.floor(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 0.5)
    dist = dist.astype(int)
    cold = [False, False, *([True, False] * 6)]
    demand = [0, 0, *rng.integers(5, 30, size=n - 2).tolist()]
    volume = [0, 0, *rng.integers(1, 8, size=n - 2).tolist()]
    windows = [(0, 600), (0, 600), *((int(e), int(e) + 200) for e in rng.integers(0, 200, n - 2))]
    penalty = [None] * n
    penalty[5] = 1  # cheaper to drop than to serve
    return routing.RoutingProblem(
        distance=dist,
        duration=np.stack([dist, dist * 2]),
        demand=demand,
        volume=volume,
        num_depots=2,
        time_windows=windows,
        service_time=[0, 0, *[10] * (n - 2)],
        penalty=penalty,
        needs_refrigeration=cold,
        vehicle_types=[
            routing.VehicleType(capacity=80, count=2, refrigerated=True, depot=0, fixed_cost=50),
            routing.VehicleType(
                capacity=100,
                capacity_volume=20,
                count=2,
                depot=1,
                shift_start=30,
                shift_end=600,
                profile=1,
                unit_distance_cost=2,
            ),
        ],
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_mixed_fleet_plan_is_feasible(solver):
    """Refrigeration, volume, shifts, two depots, profiles: the plan passes the checker."""
    problem = mixed_fleet_problem()
    plan = routing.solve(problem, time_limit_s=1, solver=solver)
    assert check.violations(problem, plan) == []
    for r in plan.routes:
        if not problem.vehicle_types[r.vehicle_type].refrigerated:
            assert not any(problem.needs_refrigeration[i] for i in r.stops)
    assert [d.node for d in plan.dropped] == [5]
    assert plan.dropped[0].code == "penalty"


@pytest.mark.parametrize("solver", SOLVERS)
def test_overweight_and_unservable_stops_are_dropped_with_reasons(solver):
    """A stop heavier than any vehicle, a cold stop without reefers, an unreachable window."""
    problem = routing.RoutingProblem(
        distance=[
            [0, 5, 5, 5, 5],
            [5, 0, 5, 5, 5],
            [5, 5, 0, 5, 5],
            [5, 5, 5, 0, 5],
            [5] * 4 + [0],
        ],
        demand=[0, 500, 3, 4, 5],
        needs_refrigeration=[False, False, True, False, False],
        time_windows=[(0, 100), (0, 100), (0, 100), (0, 2), (0, 100)],
        vehicle_types=[routing.VehicleType(capacity=100, count=2, shift_end=100)],
    )
    plan = routing.solve(problem, time_limit_s=0.5, solver=solver)
    reasons = {d.node: d.code for d in plan.dropped}
    assert reasons == {1: "too_heavy", 2: "no_refrigerated", 3: "unreachable"}
    assert "500" in next(d.reason for d in plan.dropped if d.node == 1)
    assert plan.node_routes == [[4]]
    assert check.violations(problem, plan) == []


@pytest.mark.parametrize("solver", SOLVERS)
def test_too_small_fleet_drops_stops_for_lack_of_room(solver):
    """Three 6-kg stops and one 10-kg van: two stops are dropped with code no_room."""
    problem = routing.RoutingProblem(
        distance=np.full((4, 4), 3) - 3 * np.eye(4, dtype=int),
        demand=[0, 6, 6, 6],
        vehicle_types=[routing.VehicleType(capacity=10, count=1)],
    )
    plan = routing.solve(problem, time_limit_s=0.5, solver=solver)
    assert len(plan.node_routes) == 1 and len(plan.node_routes[0]) == 1
    assert sorted(d.code for d in plan.dropped) == ["no_room", "no_room"]
    assert check.violations(problem, plan) == []


def test_empty_problem_gives_empty_plan():
    """A problem with only a depot (an empty day) returns a plan with no routes."""
    problem = routing.RoutingProblem(
        distance=[[0]], demand=[0], vehicle_types=[routing.VehicleType(capacity=10)]
    )
    plan = routing.solve(problem)
    assert plan.routes == () and plan.dropped == () and plan.total_distance == 0


def test_no_vehicles_drops_every_stop():
    """Without vehicles every stop is reported dropped, not a crash."""
    problem = routing.RoutingProblem(distance=[[0, 1], [1, 0]], demand=[0, 1], vehicle_types=[])
    plan = routing.solve(problem)
    assert [(d.node, d.code) for d in plan.dropped] == [(1, "no_vehicle")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"distance": [[0, 1, 2], [1, 0, 1]]}, "square"),
        ({"distance": [[0, 1.5], [1.5, 0]]}, "integers"),
        ({"distance": [[0, -1], [1, 0]]}, "negative"),
        ({"demand": [0, 1, 2]}, "entries"),
        ({"demand": [3, 1]}, "depot 0"),
        ({"time_windows": [(0, 10), (5, 4)]}, "closes before"),
        ({"coords": [(0.0, 0.0), (float("nan"), 1.0)]}, "coordinates"),
        ({"coords": [(0.0, 0.0), None]}, "coordinates"),
        ({"vehicle_types": [routing.VehicleType(capacity=1, depot=3)]}, "not a depot"),
    ],
)
def test_bad_problems_raise_clear_errors(kwargs, message):
    """Malformed input raises ValueError naming the problem."""
    base = {
        "distance": [[0, 1], [1, 0]],
        "demand": [0, 1],
        "vehicle_types": [routing.VehicleType(capacity=5)],
    }
    with pytest.raises(ValueError, match=message):
        routing.RoutingProblem(**{**base, **kwargs})


def test_unknown_solver_and_bad_time_limit_raise():
    """solve() rejects an unknown backend and a non-positive time limit."""
    problem = random_problem(1)
    with pytest.raises(ValueError, match="unknown solver"):
        routing.solve(problem, solver="gurobi")
    with pytest.raises(ValueError, match="time_limit_s"):
        routing.solve(problem, time_limit_s=0)


def test_missing_coordinates_in_instance_file(tmp_path):
    """A .vrp file lacking a node's coordinates raises a message naming the node."""
    lines = (DATA / "P-n101-k4.vrp").read_text().splitlines()
    cut = lines.index("NODE_COORD_SECTION") + 7  # the line of node 7
    assert lines[cut].startswith("7 ")
    broken = tmp_path / "broken.vrp"
    broken.write_text("\n".join(lines[:cut] + lines[cut + 1 :]))
    with pytest.raises(ValueError, match=r"\[7\] have no coordinates"):
        routing.read_instance(broken)


def test_checker_catches_each_kind_of_violation():
    """The checker flags overload, a late stop, a dry van with cold goods, a missed stop."""
    problem = routing.RoutingProblem(
        distance=np.full((4, 4), 10) - 10 * np.eye(4, dtype=int),
        demand=[0, 6, 6, 1],
        needs_refrigeration=[False, False, False, True],
        time_windows=[(0, 100), (0, 100), (0, 15), (0, 100)],
        vehicle_types=[routing.VehicleType(capacity=10, count=1)],
    )
    bad = plan_from_routes(problem, [[1, 2]])
    found = " | ".join(check.violations(problem, bad))
    assert "load 12 > capacity 10" in found
    assert "window closes 15" in found
    assert "stop 3 is served 0x" in found
    cold = plan_from_routes(problem, [[3, 1]])
    assert any("refrigeration" in v for v in check.violations(problem, cold))
    wrong = plan_from_routes(problem, [[3]])
    tampered = RoutingPlan(
        routes=(Route(**{**wrong.routes[0].__dict__, "distance": 1}),),
        dropped=wrong.dropped,
        distance_units=1,
        total_distance=1.0,
        duration=0,
        stats=wrong.stats,
    )
    assert any("recomputed 20" in v for v in check.violations(problem, tampered))


@pytest.mark.parametrize("solver", SOLVERS)
def test_clashing_windows_drop_one_stop_for_lack_of_room(solver):
    """Two stops both due at t=10, 10 apart, one van: one is served, the other is no_room."""
    problem = routing.RoutingProblem(
        distance=[[0, 10, 10], [10, 0, 10], [10, 10, 0]],
        demand=[0, 1, 1],
        time_windows=[(0, 100), (10, 10), (10, 10)],
        vehicle_types=[routing.VehicleType(capacity=10, count=1)],
    )
    plan = routing.solve(problem, time_limit_s=0.5, solver=solver)
    assert [len(r) for r in plan.node_routes] == [1]
    assert [d.code for d in plan.dropped] == ["no_room"]
    assert check.violations(problem, plan) == []


def test_multi_trip_vehicle_reloads_at_depot():
    """One 10-kg van allowed two trips serves two 6-kg stops; the checker accepts it."""
    problem = routing.RoutingProblem(
        distance=np.full((3, 3), 5) - 5 * np.eye(3, dtype=int),
        demand=[0, 6, 6],
        time_windows=[(0, 100), (0, 100), (0, 100)],
        vehicle_types=[routing.VehicleType(capacity=10, count=1, max_trips=2, shift_end=100)],
    )
    plan = routing.solve(problem, time_limit_s=0.5)
    assert not plan.dropped
    (route,) = plan.routes
    assert route.num_trips == 2 and route.max_trip_load == 6
    assert route.distance == 20 and route.return_time == 20
    assert check.violations(problem, plan) == []
    single = routing.RoutingProblem(
        distance=problem.distance,
        demand=problem.demand,
        vehicle_types=[routing.VehicleType(capacity=10, count=1)],
    )
    assert [d.code for d in routing.solve(single, time_limit_s=0.5).dropped] == ["no_room"]


def test_checker_rejects_too_many_trips_and_overloaded_trip():
    """A route with more trips than allowed, or a trip over capacity, is flagged."""
    problem = routing.RoutingProblem(
        distance=np.full((4, 4), 5) - 5 * np.eye(4, dtype=int),
        demand=[0, 6, 6, 6],
        vehicle_types=[routing.VehicleType(capacity=12, count=1, max_trips=2)],
    )
    three = routing.schedule(problem, 0, [1, 2, 3], [0, 1, 2])
    two = routing.schedule(problem, 0, [1, 2, 3], [0, 0, 1])
    over = routing.schedule(problem, 0, [1, 2, 3], [0, 0, 0])
    for route, message in [(three, "3 trips"), (over, "trip 0 load 18")]:
        plan = RoutingPlan(
            (route,), (), route.distance, route.distance, 0, SolverStats("x", 0, 0, 0, 0)
        )
        assert any(message in v for v in check.violations(problem, plan))
    ok = RoutingPlan((two,), (), two.distance, two.distance, 0, SolverStats("x", 0, 0, 0, 0))
    assert check.violations(problem, ok) == []
    assert two.distance == 25


@pytest.mark.parametrize("solver", SOLVERS)
def test_pinned_stops_ride_their_vehicle(solver):
    """A stop pinned to the far van is served by it although another van passes by."""
    problem = routing.RoutingProblem(
        distance=[[0, 2, 2, 9], [2, 0, 1, 9], [2, 1, 0, 9], [9, 9, 9, 0]],
        demand=[0, 1, 1, 1],
        num_depots=1,
        allowed_vehicle_types=[None, None, (1,), None],
        vehicle_types=[routing.VehicleType(capacity=10), routing.VehicleType(capacity=10)],
    )
    plan = routing.solve(problem, time_limit_s=0.5, solver=solver)
    assert check.violations(problem, plan) == []
    owner = {i: r.vehicle_type for r in plan.routes for i in r.stops}
    assert owner[2] == 1
    assert not plan.dropped


def test_pin_to_a_vehicle_that_cannot_carry_it_is_dropped_with_reason():
    """A cold stop pinned to a dry van, or to an unknown type, is reported or rejected."""
    base = {
        "distance": [[0, 1], [1, 0]],
        "demand": [0, 1],
        "vehicle_types": [
            routing.VehicleType(capacity=5),
            routing.VehicleType(capacity=5, refrigerated=True),
        ],
    }
    problem = routing.RoutingProblem(
        **base, needs_refrigeration=[False, True], allowed_vehicle_types=[None, (0,)]
    )
    assert [d.code for d in routing.solve(problem, time_limit_s=0.5).dropped] == ["no_allowed"]
    with pytest.raises(ValueError, match="not all defined"):
        routing.RoutingProblem(**base, allowed_vehicle_types=[None, (7,)])
    plan = plan_from_routes(
        routing.RoutingProblem(**base, allowed_vehicle_types=[None, (1,)]), [[1]]
    )
    problem1 = routing.RoutingProblem(**base, allowed_vehicle_types=[None, (1,)])
    assert any("pinned" in v for v in check.violations(problem1, plan))


def test_cpu_time_budget_still_gives_a_feasible_optimal_tiny_plan():
    """With the budget counted in CPU seconds, a tiny CVRP is still solved to optimality."""
    problem = random_problem(7)
    plan = routing.solve(problem, time_limit_s=0.3, cpu_time=True)
    assert check.violations(problem, plan) == []
    assert plan.distance_units == brute_force(problem)


def test_two_parallel_searches_give_a_feasible_plan_no_worse_than_one():
    """Two searches in two processes: feasible, and the kept plan is the better of the two."""
    problem = routing.read_instance(DATA / "P-n101-k4.vrp")
    plan = routing.solve(problem, time_limit_s=1.5, workers=2)
    assert check.violations(problem, plan) == []
    assert not plan.dropped
    assert "best of 2 parallel searches" in plan.stats.status
    single = routing.solve(problem, time_limit_s=1.5, workers=1)
    assert check.violations(problem, single) == []
    assert "best of 2 consecutive searches" in single.stats.status
    with pytest.raises(ValueError, match="workers"):
        routing.solve(problem, time_limit_s=1, workers=0)


def test_tight_fleet_is_the_load_bound_of_plain_cvrps_only():
    """ceil(total demand / capacity) for an unlimited-fleet CVRP; None with time windows."""
    cvrp = routing.read_instance(DATA / "P-n101-k4.vrp")
    need = -(-sum(cvrp.demand) // cvrp.vehicle_types[0].capacity)
    assert backends.tight_fleet(cvrp) == need == 4
    assert backends.tight_fleet(routing.read_instance(DATA / "RC101.txt")) is None


def test_wall_clock_budget_includes_set_up():
    """A 1-second solve of a 100-stop instance returns within about a second."""
    problem = routing.read_instance(DATA / "RC101.txt")
    t0 = time.perf_counter()
    routing.solve(problem, time_limit_s=1, workers=1)
    assert time.perf_counter() - t0 < 1.5


def test_solve_many_returns_each_problem_its_own_plan():
    """Problems split over two processes come back in order, each feasible and complete."""
    problems = [random_problem(s, n_stops=6 + s) for s in range(4)]
    plans = routing.solve_many(problems, time_limit_s=1, workers=2)
    assert len(plans) == 4
    for problem, plan in zip(problems, plans, strict=True):
        assert check.violations(problem, plan) == []
        assert {i for r in plan.routes for i in r.stops} == set(problem.stops)
        assert plan.distance_units == brute_force(problem)
