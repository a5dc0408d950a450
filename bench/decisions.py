"""Decisions safe to act on: the plan against an oracle that knows the planted truth.

Usage::

    python -m bench.decisions [--seeds 7 11] [--scale small]

For each world: the demand model is fitted up to the as-of date; the *true* demand is that
model with the generator's planted category elasticities (``truth_elasticity``). The optimiser
prices every SKU listed in the last four weeks in every community with the data's group costs
(:func:`engine.pricing.costs.defaults`), once against the fitted model (the plan) and once
against the true one (the oracle, same costs, same observed price range). Both are scored
under the true demand. Also: an oracle free to price within 0.5–1.2 × list (what staying
within evidence costs when the planted curve is right beyond it), the share of prices outside
the observed range, the share of thresholds above 1, and the seed rule's 4-week backtest GMV
share against the same rule without 库存充足.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import timedelta

import numpy as np
import pandas as pd

from bench.common import Figure, emit
from data import generate
from engine import clock
from engine.pricing import costs, response, whatif
from engine.rules import backtest, library

COLS = ["community_id", "sku_id", "price", "threshold"]
SEED_RULE = dict(library.SEEDS)["云顶华府 浏览TOP10 库存充足 高客单价"]
STOCK = "可供天数 >= 1 且 "


def one_world(seed: int, scale: str) -> dict[str, float]:
    """Plan-vs-oracle figures of one world."""
    con = generate.generate(":memory:", scale=scale, seed=seed)
    try:
        end = clock.as_of(con)
        model = response.fit(con, end=end)
        truth = dict(
            con.execute(
                "SELECT category, elasticity FROM truth_elasticity WHERE persona = 'all'"
            ).fetchall()
        )
        b = np.array([truth[c] for c in model.category], dtype=float)
        true = dataclasses.replace(model, elasticity=b)
        cm = costs.defaults(con, end)
        skus = con.execute(
            "SELECT DISTINCT sku_id FROM campaigns WHERE sale_date > ? ORDER BY 1",
            [end - timedelta(days=28)],
        ).df()["sku_id"]

        def run(m, settings=None) -> pd.DataFrame:
            opt = settings or whatif.OptimiseSettings()
            return pd.concat([whatif.optimise(m, int(s), settings=opt, costs=cm) for s in skus])

        plan, oracle = run(model), run(true)
        free = run(true, whatif.OptimiseSettings(evidence=False))
        ok = (plan["feasible"] & oracle["feasible"] & free["feasible"]).to_numpy()

        def score(df: pd.DataFrame) -> float:
            rows = df.loc[ok, COLS].reset_index(drop=True)
            return float(whatif.evaluate(true, rows, cm)["net_margin"].sum())

        got = score(plan)
        res = backtest.backtest(
            con,
            {"seed": SEED_RULE, "none": SEED_RULE.replace(STOCK, "")},
            end - timedelta(days=28),
            4,
        ).summary.set_index("rule")["gmv_share"]
        return {
            "pairs": float(ok.sum()),
            "vs_oracle": got / score(oracle),
            "vs_free_oracle": got / score(free),
            "extrapolated": float(plan["extrapolated"].mean()),
            "thresholds_above_1": float((plan.loc[plan["feasible"], "threshold"] > 1).mean()),
            "seed_rule_ratio": float(res["seed"] / res["none"]),
        }
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Measure every world and save the figures."""
    ap = argparse.ArgumentParser(prog="python -m bench.decisions", description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    ap.add_argument("--scale", default="small")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = {s: one_world(s, args.scale) for s in args.seeds}
    wall = time.perf_counter() - t0

    def each(key: str, fmt: str) -> str:
        return ", ".join(format(rows[s][key], fmt) for s in args.seeds)

    worst = min(r["vs_oracle"] for r in rows.values())
    out = max(r["extrapolated"] for r in rows.values())
    seed_ratio = min(r["seed_rule_ratio"] for r in rows.values())
    figures = [
        Figure(
            "plan ÷ oracle, margin after costs under the true demand",
            "≥ 0.95",
            each("vs_oracle", ".3f"),
            args.scale,
            worst >= 0.95,
        ),
        Figure(
            "optimiser prices outside the observed range",
            "≤ 5 %",
            each("extrapolated", ".1%"),
            args.scale,
            out <= 0.05,
        ),
        Figure(
            "plan ÷ oracle free to price 0.5–1.2 × list",
            "—",
            each("vs_free_oracle", ".3f"),
            args.scale,
        ),
        Figure(
            "thresholds above 1 (data's costs)", "—", each("thresholds_above_1", ".1%"), args.scale
        ),
        Figure(
            "seed rule GMV share ÷ same rule without 库存充足 (4 weeks)",
            "≥ 0.8",
            each("seed_rule_ratio", ".3f"),
            args.scale,
            seed_ratio >= 0.8,
        ),
    ]
    emit(
        "decisions",
        figures,
        note=f"worlds {args.seeds} ({args.scale}); {wall:.0f} s wall, shared machine.",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
