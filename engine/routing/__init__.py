"""Vehicle routing: the problem/plan contract, benchmark readers, solvers and a checker.

Use it as a module: ``from engine import routing`` then ``routing.solve(problem)``.
"""

from engine.routing import check
from engine.routing.instances import read_instance, read_solution, route_distance
from engine.routing.problem import (
    HORIZON,
    Dropped,
    Route,
    RoutingPlan,
    RoutingProblem,
    SolverStats,
    VehicleType,
)
from engine.routing.solve import (
    DEFAULT_SOLVER,
    DEFAULT_WORKERS,
    schedule,
    screen,
    solve,
    solve_many,
)

__all__ = [
    "DEFAULT_SOLVER",
    "DEFAULT_WORKERS",
    "HORIZON",
    "Dropped",
    "Route",
    "RoutingPlan",
    "RoutingProblem",
    "SolverStats",
    "VehicleType",
    "check",
    "read_instance",
    "read_solution",
    "route_distance",
    "schedule",
    "screen",
    "solve",
    "solve_many",
]
