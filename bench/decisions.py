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

Exploring twins: the same seeds generated with ``price_exploration=generate.PRICE_TESTS``
(past listings at random 0.6–1.3 × list, a platform running price tests). There the plan,
still within its observed range, is compared with an oracle free to price 0.5–1.3 × list
(the bar: ≥ 0.95), and, for information, with one free up to 1.5 × list (beyond any listing).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
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


FREE = whatif.OptimiseSettings(evidence=False, price_min=0.5, price_max=1.2)
FREE_EXPLORED = whatif.OptimiseSettings(evidence=False, price_min=0.5, price_max=1.3)
FREE_WIDE = whatif.OptimiseSettings(evidence=False, price_min=0.5, price_max=1.5)


def _optimise_all(m, settings=None, *, skus, cm) -> pd.DataFrame:
    """The optimiser's answer for every SKU under model ``m``."""
    opt = settings or whatif.OptimiseSettings()
    return pd.concat([whatif.optimise(m, int(s), settings=opt, costs=cm) for s in skus])


def explored_world(seed: int, scale: str) -> dict[str, float]:
    """Plan ÷ free oracle on the world of ``seed`` whose history explored prices."""
    con = generate.generate(
        ":memory:", scale=scale, seed=seed, price_exploration=generate.PRICE_TESTS
    )
    try:
        end = clock.as_of(con)
        model, true, cm, skus = _setup(con, end)

        run = functools.partial(_optimise_all, skus=skus, cm=cm)

        plan, free, wide = run(model), run(true, FREE_EXPLORED), run(true, FREE_WIDE)
        ok = (plan["feasible"] & free["feasible"] & wide["feasible"]).to_numpy()

        def score(df: pd.DataFrame) -> float:
            rows = df.loc[ok, COLS].reset_index(drop=True)
            return float(whatif.evaluate(true, rows, cm)["net_margin"].sum())

        got = score(plan)
        feas = plan[plan["feasible"]]
        lp = model.list_price[model.sku_index(feas["sku_id"])]
        return {
            "vs_free": got / score(free),
            "vs_wide": got / score(wide),
            "extrapolated": float(plan["extrapolated"].mean()),
            "above_list": float((feas["price"] > 1.05 * lp).mean()),
            "thresholds_above_1": float((feas["threshold"] > 1).mean()),
        }
    finally:
        con.close()


def _setup(con, end):
    """Fitted model, true model (planted elasticities), costs and SKUs of the last 4 weeks."""
    model = response.fit(con, end=end)
    truth = dict(
        con.execute(
            "SELECT category, elasticity FROM truth_elasticity WHERE persona = 'all'"
        ).fetchall()
    )
    b = np.array([truth[c] for c in model.category], dtype=float)
    true = dataclasses.replace(model, elasticity=b)
    skus = con.execute(
        "SELECT DISTINCT sku_id FROM campaigns WHERE sale_date > ? ORDER BY 1",
        [end - timedelta(days=28)],
    ).df()["sku_id"]
    return model, true, costs.defaults(con, end), skus


def one_world(seed: int, scale: str) -> dict[str, float]:
    """Plan-vs-oracle figures of one world."""
    con = generate.generate(":memory:", scale=scale, seed=seed)
    try:
        end = clock.as_of(con)
        model, true, cm, skus = _setup(con, end)

        run = functools.partial(_optimise_all, skus=skus, cm=cm)

        plan, oracle = run(model), run(true)
        free = run(true, FREE)
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
    expl = {s: explored_world(s, args.scale) for s in args.seeds}
    wall = time.perf_counter() - t0

    def each_x(key: str, fmt: str) -> str:
        return ", ".join(format(expl[s][key], fmt) for s in args.seeds)

    worst_x = min(r["vs_free"] for r in expl.values())
    out_x = max(r["extrapolated"] for r in expl.values())

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
            "exploring twins: plan ÷ oracle free to price 0.5–1.3 × list",
            "≥ 0.95",
            each_x("vs_free", ".3f"),
            args.scale,
            worst_x >= 0.95,
        ),
        Figure(
            "exploring twins: prices outside the observed range",
            "≤ 5 %",
            each_x("extrapolated", ".1%"),
            args.scale,
            out_x <= 0.05,
        ),
        Figure(
            "exploring twins: plan ÷ oracle free up to 1.5 × list (beyond every listing)",
            "—",
            each_x("vs_wide", ".3f"),
            args.scale,
        ),
        Figure(
            "exploring twins: planned prices above 1.05 × list",
            "—",
            each_x("above_list", ".1%"),
            args.scale,
        ),
        Figure(
            "exploring twins: thresholds above 1 (data's costs)",
            "—",
            each_x("thresholds_above_1", ".1%"),
            args.scale,
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
        note=f"worlds {args.seeds} ({args.scale}), default and exploring "
        f"(price_exploration={generate.PRICE_TESTS}); {wall:.0f} s wall, shared machine.",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
