"""Benchmark the pricing engine: what-if grid, optimiser, markdown DP, model fit.

Usage::

    python -m bench.pricing [--db PATH] [--days 56] [--repeat 5]

``--db`` defaults to ``LINLI_DB`` / ``data/linli.duckdb``; when the file does not exist a demo
world (seed 7) is generated into a temporary file first. Prints a markdown table
(figure, goal, measured, scale). Figures are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from engine import db as dbmod
from engine.pricing import markdown, response, whatif


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m bench.pricing", description=__doc__)
    ap.add_argument("--db", default=None, help="world to fit on (default LINLI_DB)")
    ap.add_argument("--days", type=int, default=56, help="training window in days")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    path = Path(args.db) if args.db else dbmod.db_path()
    if not path.exists():
        from data import generate

        path = Path(tempfile.mkdtemp()) / "bench-demo.duckdb"
        print(f"{args.db or path} missing: generating a demo world into {path} …")
        generate.generate(path, scale="demo", seed=7).close()
    con = dbmod.connect(path, read_only=True)
    scale = dbmod.get_meta(con, "scale", "?")

    t0, c0 = time.perf_counter(), time.process_time()
    model = response.fit(con, days=args.days)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    n_c = len(model.community_ids)
    skus = model.sku_ids[:300]
    scen = whatif.Scenario(price_change=-0.1, threshold=2, coupon=0.5)
    t_whatif = _best(lambda: whatif.simulate(model, skus, None, scen), args.repeat)
    busiest = int(model.sku_ids[np.argmax(model.eta0.mean(axis=0))])
    t_opt = _best(lambda: whatif.optimise(model, busiest), args.repeat)
    t_curve = _best(lambda: whatif.curve(model, busiest), args.repeat)
    dem, price, alpha = markdown.demand_for_sku(model, busiest, 5)
    on_hand = min(2_000, round(2 * float(dem[0, 0]) * 5))
    t_md = _best(
        lambda: markdown.plan(on_hand, 5, price, dem, dispersion=alpha), max(1, args.repeat // 2)
    )

    rows = [
        ("what-if, SKUs × communities", "≤ 2 s", f"{t_whatif:.3f} s", f"{len(skus)} × {n_c}"),
        ("optimiser, one SKU, all communities", "≤ 1 s", f"{t_opt:.3f} s", f"1 × {n_c}"),
        ("price curve, one SKU", "—", f"{t_curve:.3f} s", f"71 prices × {n_c}"),
        ("markdown DP, 5 days", "—", f"{t_md:.3f} s", f"{on_hand} units × 8 discounts"),
        (
            "model fit (elasticities + calibration)",
            "—",
            f"{fit_s:.1f} s wall, {fit_cpu:.1f} s CPU",
            f"{args.days} days",
        ),
    ]
    print(f"\nPricing benchmark — world scale {scale!r} ({path.name}), best of {args.repeat}.")
    print("Machine shared by ~8 helpers on 2 cores: figures are upper bounds.\n")
    print("| figure | goal | measured | scale |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    ok = t_whatif <= 2.0 and t_opt <= 1.0
    print(f"\nGoals {'met' if ok else 'NOT met'}.")
    con.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
