"""Routing benchmark: gap to best-known on CVRPLIB/Solomon instances per solver.

Run from the repository root::

    python -m bench.routing                 # all instances, both solvers, 10 s each
    python -m bench.routing --time-limit 3 --solvers pyvrp

Instances come from ``../shared/benchmarks/vrp`` (or ``--bench-dir``); when that folder is
absent the instance table is skipped with a note. The delivery-day figures plan tomorrow of
the `large` world (generated, or ``--day-db PATH``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from engine import routing
from engine.routing import check
from engine.routing.instances import bks_gap

REPO = Path(__file__).resolve().parent.parent
GOAL_MEAN, GOAL_MAX = 0.4, 1.5


def benchmark_dir(given: str | None = None) -> Path | None:
    """The VRP benchmark folder, if present."""
    candidates = [Path(given), Path(given) / "benchmarks"] if given else []
    candidates += [
        REPO.parent / "shared" / "benchmarks",
        REPO.parent.parent / "shared" / "benchmarks",
    ]
    for c in candidates:
        if (c / "vrp").is_dir():
            return c / "vrp"
    return None


def machine_note() -> str:
    """One line on where the figures were measured, including how busy the machine was."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with "
        f"other jobs (load average {load} at start; timings are wall-clock, so a busy "
        f"machine gets fewer search iterations), Python {platform.python_version()}"
    )


def run_instances(
    folder: Path, solvers: list[str], time_limit: float, seed: int, cpu: bool = False
) -> None:
    """Solve every instance with every solver and print the gap table and a summary."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".vrp", ".txt"))
    clock = "CPU" if cpu else "wall-clock"
    print(f"## Gap to best-known at {time_limit:g} {clock} s per instance (seed {seed})\n")
    print(
        "| instance | type | n | BKS | solver | found | gap % | routes | wall s | CPU s | feasible |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for path in files:
        problem = routing.read_instance(path)
        _, bks = routing.read_solution(path.with_suffix(".sol"))
        kind = "VRPTW" if problem.has_time_windows else "CVRP"
        for solver in solvers:
            cpu_start = time.process_time()
            plan = routing.solve(
                problem, time_limit_s=time_limit, solver=solver, seed=seed, cpu_time=cpu
            )
            cpu_used = time.process_time() - cpu_start
            ok = not check.violations(problem, plan) and not plan.dropped
            gap = bks_gap(plan.total_distance, bks) if ok else float("inf")
            gaps[solver].append(gap)
            found = f"{plan.total_distance:g}" if ok else f"{len(plan.dropped)} dropped"
            print(
                f"| {path.stem} | {kind} | {len(problem.stops)} | {bks:g} | {solver} | {found} "
                f"| {gap:.2f} | {len(plan.routes)} | {plan.stats.runtime_s:.1f} | {cpu_used:.1f} "
                f"| {ok} |",
                flush=True,
            )
    print("\n| figure | goal | measured | scale |")
    print("|---|---|---|---|")
    for solver, values in gaps.items():
        scale = f"{len(values)} instances, 77-199 customers, {time_limit:g} {clock} s each"
        mean = statistics.fmean(values) if values else float("nan")
        print(f"| {solver} mean gap % | ≤ {GOAL_MEAN} | {mean:.2f} | {scale} |")
        print(f"| {solver} max gap % | ≤ {GOAL_MAX} | {max(values, default=0):.2f} | {scale} |")


def large_day_db(path: str | None):
    """A connection to the `large` world: ``path`` if given, else generated in memory.

    The generated world keeps the `large` network (200 communities, 8 warehouses, their
    fleets) but simulates only the last 45 days, which is all a delivery day needs and
    keeps the benchmark to about a minute of generation.
    """
    import dataclasses

    import duckdb

    from data import generate, world

    if path:
        return duckdb.connect(path, read_only=True)
    world.SCALES["large"] = dataclasses.replace(world.SCALES["large"], days=45)
    return generate.generate(":memory:", scale="large", seed=7)


def run_day(path: str | None, time_limit: float, solvers: list[str]) -> None:
    """Plan tomorrow's deliveries of the large world and print the figures."""
    from engine.routing import dispatch

    t0 = time.perf_counter()
    con = large_day_db(path)
    built = time.perf_counter() - t0
    date = dispatch.next_delivery_date(con)
    print(f"## Delivery day of the `large` world ({date}; world ready in {built:.0f} s)\n")
    print("| figure | goal | measured | scale |")
    print("|---|---|---|---|")
    for solver in solvers:
        settings = dispatch.DispatchSettings(time_limit_s=time_limit, solver=solver)
        t0 = time.perf_counter()
        day = dispatch.plan_day(con.cursor(), date, settings=settings)
        took = time.perf_counter() - t0
        bad = sum(len(check.violations(ws.problem, ws.plan)) for ws in day.solves)
        scale = (
            f"{day.stops['pickup_id'].nunique()} pickup points = {len(day.stops)} stops "
            f"(cold/ambient split), {len(day.solves)} warehouses, "
            f"{day.lines['order_id'].nunique()} orders"
        )
        print(f"| {solver}: wall-clock to plan the day, s | ≤ 15 | {took:.1f} | {scale} |")
        print(f"| {solver}: stops routed | all | {len(day.route_stops)} of {len(day.stops)} | |")
        print(f"| {solver}: stops dropped (with reason) | 0 | {len(day.dropped)} | |")
        print(f"| {solver}: feasibility violations (checker) | 0 | {bad} | |")
        print(
            f"| {solver}: vehicles used / km / cost | — | {len(day.routes)} / "
            f"{day.routes['km'].sum():,.0f} km / ¥{day.routes['cost_yuan'].sum():,.0f} | |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--solvers", nargs="+", default=["pyvrp", "ortools"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench-dir", help="folder holding vrp/ (default ../shared/benchmarks)")
    parser.add_argument("--skip-instances", action="store_true")
    parser.add_argument("--skip-day", action="store_true")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="count the per-instance budget in CPU seconds (PyVRP; fair on a busy machine)",
    )
    parser.add_argument("--day-db", help="large-world DuckDB file (default: generate one)")
    parser.add_argument("--day-time-limit", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(f"# Routing benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"Machine: {machine_note()}.\n")
    folder = benchmark_dir(args.bench_dir)
    if args.skip_instances:
        pass
    elif folder is None:
        print("Note: ../shared/benchmarks/vrp not found; instance gaps skipped.\n")
    else:
        run_instances(folder, args.solvers, args.time_limit, args.seed, args.cpu_time)
    if not args.skip_day:
        print()
        run_day(args.day_db, args.day_time_limit, args.solvers)


if __name__ == "__main__":
    main()
