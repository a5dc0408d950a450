"""The 需求预测 page's model (no listing plan) on a Linli world: hold-out accuracy per model.

Usage::

    python -m bench.forecast_page --db /tmp/linli-demo.duckdb

Runs ``engine.forecasting.outlook.compute`` (what the background fit stores for the page,
without Streamlit) and prints WAPE and bias over the last 28 days per model, at SKU × warehouse level
and for category totals, as the page's accuracy table computes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import duckdb

from engine import forecasting
from engine.forecasting import outlook as page


def main(argv: list[str] | None = None) -> None:
    """Fit the page model and print its hold-out accuracy beside the baselines."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", default="/tmp/linli-demo.duckdb")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--objective",
        choices=["squared", "absolute"],
        default=None,
        help="fix the loss instead of choosing it on the earlier window",
    )
    args = ap.parse_args(argv)
    con = duckdb.connect(args.db, read_only=True)
    t0, c0 = time.perf_counter(), time.process_time()
    r = page.compute(
        con,
        seed=args.seed,
        settings=dataclasses.replace(page.SETTINGS, objective=args.objective or "squared"),
        choose=args.objective is None,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ids = r.keys["unique_id"].tolist()
    leaf = page.accuracy(r, ids)
    cat = r.keys[["unique_id", "category"]]
    hold = r.holdout.drop(columns="censored")
    up = forecasting.rollup(hold, cat, ["category"])
    tot = forecasting.metrics(up, ["model"])
    print(
        f"db {args.db}: {len(ids)} series, fit {wall:.0f} s wall / {cpu:.0f} s CPU, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    if r.choice is not None:
        print("Loss chosen on the 28 days before the hold-out:")
        print(r.choice.round(3).to_string(index=False))
    print(f"objective: {r.objective}")
    print("| model | WAPE | bias | category-total WAPE | category-total bias |")
    print("|---|---|---|---|---|")
    t = tot.set_index("model")
    for row in leaf.itertuples():
        c = t.loc[row.model]
        print(f"| {row.model} | {row.wape:.3f} | {row.bias:+.3f} | {c.wape:.3f} | {c.bias:+.3f} |")


if __name__ == "__main__":
    main()
