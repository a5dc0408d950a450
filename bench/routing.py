"""Routing benchmark: gap to best-known on CVRPLIB/Solomon instances per solver.

Run from the repository root::

    python -m bench.routing                 # all instances, both solvers, 10 s each
    python -m bench.routing --time-limit 3 --solvers pyvrp

Instances come from ``../shared/benchmarks/vrp`` (or ``LINLI_BENCHMARKS``/vrp); when that
folder is absent the instance table is skipped with a note.
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


def benchmark_dir() -> Path | None:
    """The shared benchmark folder, if present."""
    candidates = [Path(os.environ["LINLI_BENCHMARKS"])] if "LINLI_BENCHMARKS" in os.environ else []
    candidates += [
        REPO.parent / "shared" / "benchmarks",
        REPO.parent.parent / "shared" / "benchmarks",
    ]
    for c in candidates:
        if (c / "vrp").is_dir():
            return c / "vrp"
    return None


def machine_note() -> str:
    """One line on where the figures were measured."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with "
        f"other jobs (timings are wall-clock and noisy), Python {platform.python_version()}"
    )


def run_instances(folder: Path, solvers: list[str], time_limit: float, seed: int) -> None:
    """Solve every instance with every solver and print the gap table and a summary."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".vrp", ".txt"))
    print(f"## Gap to best-known at {time_limit:g} s per instance (seed {seed})\n")
    print("| instance | type | n | BKS | solver | found | gap % | routes | s | feasible |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for path in files:
        problem = routing.read_instance(path)
        _, bks = routing.read_solution(path.with_suffix(".sol"))
        kind = "VRPTW" if problem.has_time_windows else "CVRP"
        for solver in solvers:
            plan = routing.solve(problem, time_limit_s=time_limit, solver=solver, seed=seed)
            ok = not check.violations(problem, plan) and not plan.dropped
            gap = bks_gap(plan.total_distance, bks) if ok else float("inf")
            gaps[solver].append(gap)
            found = f"{plan.total_distance:g}" if ok else f"{len(plan.dropped)} dropped"
            print(
                f"| {path.stem} | {kind} | {len(problem.stops)} | {bks:g} | {solver} | {found} "
                f"| {gap:.2f} | {len(plan.routes)} | {plan.stats.runtime_s:.1f} | {ok} |",
                flush=True,
            )
    print("\n| figure | goal | measured | scale |")
    print("|---|---|---|---|")
    for solver, values in gaps.items():
        scale = f"{len(values)} instances, 77-199 customers, {time_limit:g} s each"
        mean = statistics.fmean(values) if values else float("nan")
        print(f"| {solver} mean gap % | ≤ {GOAL_MEAN} | {mean:.2f} | {scale} |")
        print(f"| {solver} max gap % | ≤ {GOAL_MAX} | {max(values, default=0):.2f} | {scale} |")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--solvers", nargs="+", default=["pyvrp", "ortools"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-instances", action="store_true")
    args = parser.parse_args(argv)
    print(f"# Routing benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"Machine: {machine_note()}.\n")
    folder = benchmark_dir()
    if args.skip_instances:
        pass
    elif folder is None:
        print("Note: ../shared/benchmarks/vrp not found; instance gaps skipped.\n")
    else:
        run_instances(folder, args.solvers, args.time_limit, args.seed)


if __name__ == "__main__":
    main()
