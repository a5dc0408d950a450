"""How well category elasticities recover the planted ones, over many generated worlds.

Usage::

    python -m bench.elasticity_worlds [--seeds 30] [--scale small]

Each seed builds a world in memory and fits :func:`engine.pricing.elasticity.by_category` on
the window the pricing tests use (83 days ending a week before the as-of date). Prints per
category the mean error against ``truth_elasticity`` (bias), its spread, the mean reported
standard error and the spread of ``error / SE`` (1 when the SE is honest), the mean error of
the line slope alone (``bias_lines``; the estimate adds the units-per-line slope), and over all
categories the coverage of the 95 % intervals, how many worlds break the old one-world rule
"every category with SE <= 0.15 is within ±0.3", and the figures the many-worlds test holds
the well-measured categories (>= 900 campaigns in the median world) to. One world tells
little: a category's error in one seed is a draw from the spread shown here. ``--frame`` keeps
every world's table (to choose a test's thresholds).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import numpy as np
import pandas as pd

from bench.common import Figure, emit
from data import generate
from engine import clock
from engine.pricing import data, elasticity


def one_world(seed: int, scale: str) -> pd.DataFrame:
    """Category fit of one world, with the planted truth."""
    con = generate.generate(":memory:", scale=scale, seed=seed)
    try:
        cut = clock.as_of(con) - timedelta(days=7)
        start, stop = data.window(con, cut, 83)
        cat = elasticity.by_category(data.campaigns(con, start, stop))
        table = cat.table.assign(lines_el=cat.fit.beta, lines_se=cat.fit.se)
        truth = dict(
            con.execute(
                "SELECT category, elasticity FROM truth_elasticity WHERE persona = 'all'"
            ).fetchall()
        )
    finally:
        con.close()
    return table.assign(truth=table["category"].map(truth), seed=seed)


def main(argv: list[str] | None = None) -> int:
    """Fit every world, print the table and save the figures."""
    ap = argparse.ArgumentParser(prog="python -m bench.elasticity_worlds", description=__doc__)
    ap.add_argument("--seeds", type=int, default=30, help="worlds, seeds 1..N")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--frame", help="also write every world's table to this CSV")
    args = ap.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()
    df = pd.concat([one_world(s, args.scale) for s in range(1, args.seeds + 1)])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.frame:
        df.to_csv(args.frame, index=False)
    df["err"] = df["elasticity"] - df["truth"]
    df["z"] = df["err"] / df["se"]
    df["err_lines"] = df["lines_el"] - df["truth"]
    per = df.groupby("category").agg(
        bias=("err", "mean"),
        sd=("err", "std"),
        se=("se", "mean"),
        z_sd=("z", "std"),
        bias_lines=("err_lines", "mean"),
    )
    per["t_bias"] = per["bias"] / (per["sd"] / np.sqrt(args.seeds))
    print(per.round(3).to_string())
    good = df[df["se"] <= 0.15]
    broken = good.loc[good["err"].abs() > 0.3, "seed"].nunique()
    cover = float((df["z"].abs() <= 1.96).mean())
    rmse = float(np.sqrt((df["err"] ** 2).mean()))
    rmse_lines = float(np.sqrt((df["err_lines"] ** 2).mean()))
    med = df.groupby("category")["n_campaigns"].median()
    well = df[df["category"].isin(med[med >= 900].index)]
    well_bias = well.groupby("category")["err"].mean()
    wb = well_bias.abs().idxmax() if len(well_bias) else "—"
    worst = per["bias"].abs().idxmax()
    n = args.seeds
    figures = [
        Figure("95 % intervals covering the truth", "≈ 95 %", f"{cover:.0%}", args.scale),
        Figure("sd of error / SE", "≈ 1", f"{df['z'].std():.2f}", args.scale),
        Figure("RMSE against the truth", "—", f"{rmse:.3f}", args.scale),
        Figure("RMSE of the line slope alone", "—", f"{rmse_lines:.3f}", args.scale),
        Figure(
            "largest mean error (bias) of a category",
            "—",
            f"{per.loc[worst, 'bias']:+.3f} ({worst}, t = {per.loc[worst, 't_bias']:.1f})",
            args.scale,
        ),
        Figure(
            "worlds breaking 'SE <= 0.15 ⇒ within ±0.3'",
            "—",
            f"{broken} of {n}",
            args.scale,
        ),
        Figure(
            "well-measured categories: largest mean error",
            "within ±0.15",
            f"{well_bias.get(wb, float('nan')):+.3f} ({wb})",
            args.scale,
        ),
        Figure(
            "well-measured categories: 95 % intervals covering",
            ">= 80 %",
            f"{(well['z'].abs() <= 1.96).mean():.0%}",
            args.scale,
        ),
        Figure(
            "well-measured categories: estimates within ±0.3",
            ">= 90 %",
            f"{(well['err'].abs() <= 0.3).mean():.0%}",
            args.scale,
        ),
    ]
    emit(
        "elasticity_worlds",
        figures,
        note=f"{n} worlds (seeds 1..{n}); {wall:.0f} s wall, {cpu:.0f} s CPU, shared machine.",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
