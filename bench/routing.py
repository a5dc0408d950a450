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
import sys
import time
from pathlib import Path

from bench.common import Figure, emit
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
        f"other jobs (load average {load} at start; with wall-clock budgets a busy machine "
        f"gets fewer search iterations), Python {platform.python_version()}"
    )


def run_instances(
    folder: Path,
    configs: list[tuple[str, str, int]],
    time_limit: float,
    seed: int,
    cpu: bool = False,
) -> dict[str, list[tuple[str, float]]]:
    """Solve every instance with every ``(label, solver, workers)``; print the gap table.

    Returns each label's ``(instance, gap %)`` list (``inf`` when no feasible full plan).
    """
    files = sorted(p for p in folder.iterdir() if p.suffix in (".vrp", ".txt"))
    clock = "CPU s per search process" if cpu else "wall-clock s"
    print(f"## Gap to best-known at {time_limit:g} {clock} per instance (seed {seed})\n")
    print(
        "| instance | type | n | BKS | solver | found | gap % | routes | wall s | CPU s "
        "| feasible | status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    gaps: dict[str, list[tuple[str, float]]] = {label: [] for label, _, _ in configs}
    for path in files:
        problem = routing.read_instance(path)
        _, bks = routing.read_solution(path.with_suffix(".sol"))
        kind = "VRPTW" if problem.has_time_windows else "CVRP"
        for label, solver, workers in configs:
            cpu_start = _cpu_all()
            t0 = time.perf_counter()
            plan = routing.solve(
                problem,
                time_limit_s=time_limit,
                solver=solver,
                seed=seed,
                cpu_time=cpu,
                workers=workers,
            )
            wall = time.perf_counter() - t0
            cpu_used = _cpu_all() - cpu_start
            ok = not check.violations(problem, plan) and not plan.dropped
            gap = bks_gap(plan.total_distance, bks) if ok else float("inf")
            gaps[label].append((path.stem, gap))
            found = f"{plan.total_distance:g}" if ok else f"{len(plan.dropped)} dropped"
            print(
                f"| {path.stem} | {kind} | {len(problem.stops)} | {bks:g} | {label} | {found} "
                f"| {gap:.2f} | {len(plan.routes)} | {wall:.1f} | {cpu_used:.1f} | {ok} "
                f"| {plan.stats.status} |",
                flush=True,
            )
    print("\n| solver | mean gap % | max gap % (instance) | instances at BKS |")
    print("|---|---|---|---|")
    for label, values in gaps.items():
        mean, (worst, top) = _summary(values)
        at_bks = sum(g <= 1e-9 for _, g in values)
        print(f"| {label} | {mean:.2f} | {top:.2f} ({worst}) | {at_bks} of {len(values)} |")
    return gaps


def _cpu_all() -> float:
    """CPU seconds of this process and its finished children (parallel searches)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _summary(values: list[tuple[str, float]]) -> tuple[float, tuple[str, float]]:
    """Mean gap and the worst ``(instance, gap)``."""
    if not values:
        return float("nan"), ("-", float("nan"))
    mean = statistics.fmean(g for _, g in values)
    return mean, max(values, key=lambda v: v[1])


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


def run_day(
    path: str | None,
    time_limit: float,
    solvers: list[str],
    workers: int | None,
    cpu: bool = False,
) -> list[Figure]:
    """Plan tomorrow's deliveries of the large world, split and unsplit; print the figures.

    The default plan makes two stops per pickup point (chilled/frozen on refrigerated vans,
    ambient on any van): 200 pickup points = 400 stops. With ``split_cold=False`` each pickup
    point is one stop, the issue's "200-stop day", all of it on refrigerated vans.
    """
    from engine import clock as world_clock
    from engine.routing import dispatch

    t0 = time.perf_counter()
    con = large_day_db(path)
    built = time.perf_counter() - t0
    date = world_clock.next_delivery_day(con)
    clock = "CPU s per search process" if cpu else "wall-clock s"
    print(f"## Delivery day of the `large` world ({date}; world ready in {built:.0f} s)\n")
    print(f"Budget {time_limit:g} {clock} for the whole day.\n")
    print(
        "| day | solver | wall s | CPU s | stops routed | dropped | violations | vans "
        "| km | cost ¥ |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    figures = []
    for split in (False, True):
        for solver in solvers:
            settings = dispatch.DispatchSettings(
                time_limit_s=time_limit,
                solver=solver,
                split_cold=split,
                workers=workers,
                cpu_time=cpu,
            )
            cpu0 = _cpu_all()
            t0 = time.perf_counter()
            day = dispatch.plan_day(con.cursor(), date, settings=settings)
            took = time.perf_counter() - t0
            cpu_used = _cpu_all() - cpu0
            bad = sum(len(check.violations(ws.problem, ws.plan)) for ws in day.solves)
            n = len(day.stops)
            label = f"{n} stops ({day.stops['pickup_id'].nunique()} pickup points"
            label += ", cold/ambient split)" if split else ", one stop each)"
            print(
                f"| {label} | {solver} | {took:.1f} | {cpu_used:.1f} "
                f"| {len(day.route_stops)} | {len(day.dropped)} | {bad} | {len(day.routes)} "
                f"| {day.routes['km'].sum():,.0f} | {day.routes['cost_yuan'].sum():,.0f} |",
                flush=True,
            )
            for row in day.dropped.head(3).itertuples():
                print(f"|  | dropped {row.stop_key} | {row.code}: {row.reason} |")
            orders = day.lines["order_id"].nunique()
            scale = f"large, {len(day.solves)} warehouses, {orders:,} orders, {solver}"
            measured = (
                f"{took:.1f} s wall ({cpu_used:.1f} CPU s), {len(day.route_stops)} of {n} "
                f"stops routed, {len(day.dropped)} dropped with reasons, {bad} violations"
            )
            figures.append(
                Figure(
                    f"a {n}-stop day of the large world "
                    f"({'cold/ambient split' if split else 'one stop per pickup point'})",
                    "≤ 15 s, every stop",
                    measured,
                    scale,
                    took <= 15 and day.dropped.empty and bad == 0,
                )
            )
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--solvers", nargs="+", default=["pyvrp", "ortools"])
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=[routing.DEFAULT_WORKERS, 1],
        help="PyVRP parallel searches to compare (processes; default: 2 and 1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench-dir", help="folder holding vrp/ (default ../shared/benchmarks)")
    parser.add_argument("--skip-instances", action="store_true")
    parser.add_argument("--skip-day", action="store_true")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="count each instance's budget in CPU seconds per search process (PyVRP; fair on "
        "a busy machine; OR-Tools stays wall-clock)",
    )
    parser.add_argument(
        "--day-cpu-time",
        action="store_true",
        help="count the day's budget in CPU seconds too (its goal is wall-clock, so off by "
        "default)",
    )
    parser.add_argument("--day-db", help="large-world DuckDB file (default: generate one)")
    parser.add_argument("--day-time-limit", type=float, default=10.0)
    parser.add_argument("--no-save", action="store_true", help="don't write results JSON")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# Routing benchmark ({started})\n")
    print(f"Machine: {machine_note()}.\n")
    configs = []
    for solver in args.solvers:
        if solver == "pyvrp":
            configs += [(f"pyvrp ×{w}" if w > 1 else "pyvrp", "pyvrp", w) for w in args.workers]
        else:
            configs.append((solver, solver, 1))
    figures: list[Figure] = []
    folder = benchmark_dir(args.bench_dir)
    clock = "CPU s per search process" if args.cpu_time else "wall-clock s"
    if args.skip_instances:
        pass
    elif folder is None:
        print("Note: ../shared/benchmarks/vrp not found; instance gaps skipped.\n")
    else:
        gaps = run_instances(folder, configs, args.time_limit, args.seed, args.cpu_time)
        scale = f"{len(next(iter(gaps.values())))} CVRPLIB + Solomon instances"
        for label, values in gaps.items():
            mean, (worst, top) = _summary(values)
            figures.append(
                Figure(
                    f"gap to best-known at {args.time_limit:g} {clock}, {label}"
                    + (" (default)" if label.startswith("pyvrp") and "×" in label else ""),
                    f"mean ≤ {GOAL_MEAN} %, max ≤ {GOAL_MAX} %",
                    f"mean {mean:.2f} %, max {top:.2f} % ({worst})",
                    scale,
                    mean <= GOAL_MEAN and top <= GOAL_MAX,
                )
            )
    if not args.skip_day:
        print()
        figures += run_day(args.day_db, args.day_time_limit, args.solvers, None, args.day_cpu_time)
    if not args.no_save and figures:
        note = (
            f"python -m bench.routing {' '.join(argv if argv is not None else sys.argv[1:])}; "
            f"run {started}; {machine_note()}"
        )
        emit("routing", figures, note)


if __name__ == "__main__":
    main()
