"""Foundation benchmarks: world generation, KPI query latency, Overview rerun, pandas ratio.

Usage: ``python -m bench.foundation [--scales small,demo,large] [--large PATH]``.
With ``--large PATH`` an existing large world is reused for the query figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd

from bench.common import Figure, emit, median_ms
from data import generate
from engine import kpis

GEN_GOALS = {"small": None, "demo": 60.0, "large": 600.0}


def gen_figures(scales: list[str], keep_large: Path | None) -> tuple[list[Figure], Path | None]:
    figs = []
    large_path = keep_large
    for sc in scales:
        if sc == "large" and keep_large and keep_large.exists():
            continue
        d = Path(tempfile.mkdtemp())
        path = d / f"{sc}.duckdb"
        t0 = time.perf_counter()
        con = generate.generate(path, scale=sc, seed=1)
        took = time.perf_counter() - t0
        n_lines = con.execute("SELECT count(*) FROM order_items").fetchall()[0][0]
        n_orders = con.execute("SELECT count(*) FROM orders").fetchall()[0][0]
        con.close()
        goal = GEN_GOALS[sc]
        figs.append(
            Figure(
                f"generate `{sc}` ({n_orders:,} orders, {n_lines:,} lines)",
                f"≤ {goal:.0f} s" if goal else "seconds",
                f"{took:.1f} s",
                sc,
                None if goal is None else took <= goal,
            )
        )
        if sc == "large":
            large_path = path
    return figs, large_path


def kpi_figures(path: Path, scale: str) -> list[Figure]:
    con = duckdb.connect(str(path), read_only=True)
    lo, hi = kpis.data_range(con)
    n_lines = con.execute("SELECT count(*) FROM order_items").fetchall()[0][0]
    figs = []
    start = hi - timedelta(days=29)
    worst = 0.0
    for key, fn in kpis.FUNCS.items():
        ms = median_ms(lambda fn=fn: fn(con, start, hi, ()))
        ms_r = median_ms(lambda fn=fn: fn(con, lo, hi, (1, 2)))
        worst = max(worst, ms, ms_r)
        figs.append(
            Figure(
                f"KPI `{key}` (30 days all regions / whole span 2 regions)",
                "≤ 50 ms",
                f"{ms:.1f} / {ms_r:.1f} ms",
                scale,
                max(ms, ms_r) <= 50,
            )
        )
    ms = median_ms(lambda: kpis.summary(con, start, hi, ()), repeat=5)
    figs.append(
        Figure("all 12 KPIs + previous period (Overview cards)", "—", f"{ms:.0f} ms", scale)
    )

    # The same two headline figures in plain pandas from the base tables, for the ratio.
    t0 = time.perf_counter()
    o = con.execute("SELECT order_id, user_id, order_date, status FROM orders").df()
    li = con.execute("SELECT order_id, qty, refund_qty, unit_price FROM order_items").df()
    load_s = time.perf_counter() - t0

    s_ts, e_ts = pd.Timestamp(start), pd.Timestamp(hi)

    def pandas_kpis():
        m = o[(o["order_date"] >= s_ts) & (o["order_date"] <= e_ts)]
        x = li.merge(m[m["status"] != "cancelled"][["order_id"]], on="order_id")
        gmv = ((x["qty"] - x["refund_qty"]) * x["unit_price"]).sum()
        buyers = m.loc[m["status"] == "paid", "user_id"].nunique()
        return gmv, buyers

    pd_ms = median_ms(pandas_kpis, repeat=3, warmup=1)
    db_ms = median_ms(lambda: (kpis.gmv(con, start, hi), kpis.active_buyers(con, start, hi)))
    figs.append(
        Figure(
            f"GMV + active buyers, pandas on {n_lines:,} lines (load {load_s:.1f} s excluded)",
            "ratio",
            f"{pd_ms:.0f} ms vs {db_ms:.1f} ms rollups = ×{pd_ms / db_ms:.0f}",
            scale,
        )
    )
    con.close()
    return figs


def overview_figure(path: Path, scale: str) -> Figure:
    from streamlit.testing.v1 import AppTest

    os.environ["LINLI_DB"] = str(path)
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    warm.sort()
    ok = not at.exception
    w = warm[len(warm) // 2]
    return Figure(
        f"Overview rerun warm (cold {cold:.1f} s)", "≤ 0.5 s", f"{w:.2f} s", scale, ok and w <= 0.5
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="small,demo,large")
    ap.add_argument("--large", type=Path, default=None, help="reuse this large world")
    args = ap.parse_args()
    scales = [s for s in args.scales.split(",") if s]
    figs, large = gen_figures(scales, args.large)
    target = large
    scale = "large"
    if target is None or not Path(target).exists():
        target, scale = None, ""
    if target:
        figs += kpi_figures(Path(target), scale)
        figs.append(overview_figure(Path(target), scale))
    emit("foundation", figs, "Measured while other work shared the 2 cores.")


if __name__ == "__main__":
    main()
