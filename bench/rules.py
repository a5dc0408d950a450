"""Benchmark the selection rules: one rule over all communities, and a 4-rule 8-week backtest.

Usage::

    python -m bench.rules --db /tmp/linli-large.duckdb     # build it first (see below)
    python -m data.generate --scale large --seed 1 --db /tmp/linli-large.duckdb

Prints a markdown table (figure, goal, measured, scale). Timings are medians of a few runs
after one warm-up run, on whatever machine this is (shared machines give noisy figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

from bench import common
from engine import clock, db
from engine.rules import backtest, evaluation, library, parser

ONE_RULE = "范围 全部 过去 30 天 筛选 库存天数 >= 3 且 单价分位 >= 0.7 排序 浏览量 降序 前 10"
HEAVY_RULE = (
    '范围 全部 过去 14 天 人群 标签 "儿童" 筛选 (转化率 > 0.01 或 销量趋势 >= 1.5) 且 '
    '话题趋势("低糖水果") >= 0 且 毛利率 >= 0.1 排序 成交额 降序 前 20'
)
BACKTEST_RULES = {
    "seed: views+stock+price": ONE_RULE,
    "trend: 低糖水果": dict(library.SEEDS)["低糖水果 话题升温"],
    "margin": "范围 全部 过去 14 天 筛选 库存天数 >= 2 排序 毛利 降序 前 10",
    "momentum": "范围 全部 过去 7 天 筛选 销量 >= 3 排序 销量趋势 降序 前 10",
}


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall and process-CPU seconds of ``repeat`` runs after a warm-up, and the result.

    CPU time (all DuckDB threads) is reported too because on a loaded, shared machine the
    wall time mostly measures waiting for a core.
    """
    out = fn()
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="/tmp/linli-large.duckdb")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--weeks", type=int, default=8)
    args = ap.parse_args(argv)
    if not Path(args.db).exists():
        print(f"{args.db} does not exist; build it with python -m data.generate", file=sys.stderr)
        return 2
    con = db.connect(args.db, read_only=True)
    scale = db.get_meta(con, "scale", "?")
    as_of = clock.as_of(con)
    sizes = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # fixed table names
        for t in ("communities", "skus", "users", "order_items", "browse_events", "inventory")
    }

    parse_s, _, _ = timed(lambda: parser.parse(ONE_RULE), 200)
    one_s, one_c, picks = timed(
        lambda: evaluation.evaluate(con, ONE_RULE, as_of=as_of), args.repeat
    )
    heavy_s, heavy_c, heavy = timed(
        lambda: evaluation.evaluate(con, HEAVY_RULE, as_of=as_of), args.repeat
    )
    start = as_of - dt.timedelta(days=7 * args.weeks)
    bt_s, bt_c, result = timed(
        lambda: backtest.backtest(con, BACKTEST_RULES, start, args.weeks, top_n=10),
        max(1, args.repeat // 3),
    )

    figures = [
        common.Figure("parse one rule", "—", f"{parse_s * 1e6:.0f} µs", "-"),
        common.Figure(
            f"one rule, all {sizes['communities']} communities ({len(picks)} picks)",
            "≤ 500 ms",
            f"{one_s * 1e3:.0f} ms (CPU {one_c * 1e3:.0f} ms)",
            scale,
            one_s <= 0.5,
        ),
        common.Figure(
            f"heavy rule: audience, topic, trend ({len(heavy)} picks)",
            "—",
            f"{heavy_s * 1e3:.0f} ms (CPU {heavy_c * 1e3:.0f} ms)",
            scale,
        ),
        common.Figure(
            f"backtest 4 rules + baseline × {args.weeks} weeks",
            "≤ 10 s",
            f"{bt_s:.2f} s (CPU {bt_c:.2f} s)",
            scale,
            bt_s <= 10,
        ),
    ]
    load = os.getloadavg()[0]
    rows = ", ".join(f"{k} {v:,}" for k, v in sizes.items())
    common.emit(
        "rules",
        figures,
        note=(
            f"{args.db}, as_of {as_of}; {rows}. Shared machine, load average {load:.1f} "
            "during the run: CPU time (all DuckDB threads) is the load-independent figure."
        ),
    )
    print()
    s = result.summary
    print("| rule | hit rate | GMV share | sell-through | waste |")
    print("|---|---|---|---|---|")
    for r in s.itertuples():
        print(
            f"| {r.rule} | {r.hit_rate:.1%} | {r.gmv_share:.1%} | {r.sell_through:.1%} "
            f"| {r.waste_rate:.1%} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
