"""Benchmark the Spark fan-out: forecast training per region and routing per warehouse,
the single-machine loop against Spark local[2], and whether the results are identical.

Run from the repository root (the worlds are opened read-only)::

    python -m bench.fanout --demo /work/worlds/demo.duckdb --large /work/worlds/large.duckdb

Forecast training fits one model per region of the demo world (engine.forecasting.fanout,
its default settings, seed 0); routing plans the large world's last delivery day, one PyVRP
problem per warehouse with a fixed iteration budget (engine.routing.fanout). Spark's session
start is reported apart; each Spark figure includes shipping the rows to the executors and
back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import duckdb
import numpy as np
import pandas as pd

from bench.common import Figure, emit
from engine import spark as sparkmod
from engine.forecasting import fanout as fc_fanout
from engine.routing import fanout as rt_fanout


def _timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - t0


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> tuple[bool, float]:
    """Whether two result frames are equal, and the largest absolute numeric difference."""
    same = a.shape == b.shape and a.equals(b)
    num = [c for c in a.columns if a[c].dtype.kind in "fi"]
    diff = (
        float(np.max(np.abs(a[num].to_numpy(float) - b[num].to_numpy(float)))) if same else np.nan
    )
    return same, diff


def forecast(path: str, session) -> list[Figure]:
    """Per-region forecast training on the demo world: loop vs Spark."""
    con = duckdb.connect(path, read_only=True)
    try:
        frame, hol = fc_fanout.training_frame(con)
    finally:
        con.close()
    regions = frame[fc_fanout.GROUP].nunique()
    series = frame["unique_id"].nunique()
    scale = f"demo world: {regions} regions, {series:,} series, {len(frame):,} rows"
    local, t_local = _timed(fc_fanout.train, frame, hol, "local")
    remote, t_spark = _timed(fc_fanout.train, frame, hol, "spark", session=session)
    same, diff = _identical(local, remote)
    return [
        Figure(
            "forecast training per region: loop (one process) vs Spark local[2]",
            "Spark faster than the loop",
            f"loop {t_local:.1f} s, Spark {t_spark:.1f} s ({t_local / t_spark:.2f}x)",
            scale,
            t_spark < t_local,
        ),
        Figure(
            "forecast fan-out: Spark's forecasts equal the loop's",
            "bit-identical",
            f"{'identical' if same else 'DIFFERENT'} ({len(local):,} rows, max abs diff {diff:g})",
            scale,
            same,
        ),
    ]


def routing(path: str, session, iterations: int) -> list[Figure]:
    """Per-warehouse routing of the large world's last delivery day: loop vs Spark."""
    con = duckdb.connect(path, read_only=True)
    try:
        last = con.execute("SELECT max(order_date) FROM orders").fetchone()
        assert last is not None
        day = last[0] + dt.timedelta(days=1)
        stops, vans = rt_fanout.day_stops(con, day)
    finally:
        con.close()
    whs = stops["warehouse_id"].nunique()
    scale = f"large world, delivery {day}: {whs} warehouses, {len(stops):,} stops"
    kw = {"iterations": iterations}
    local, t_local = _timed(rt_fanout.route_day, stops, vans, "local", **kw)
    remote, t_spark = _timed(rt_fanout.route_day, stops, vans, "spark", session=session, **kw)
    same, _ = _identical(local, remote)
    dropped = int((local["kind"] == "dropped").sum())
    return [
        Figure(
            f"routing per warehouse ({iterations:,} PyVRP iterations each): loop vs Spark local[2]",
            "Spark faster than the loop",
            f"loop {t_local:.1f} s, Spark {t_spark:.1f} s ({t_local / t_spark:.2f}x)",
            scale,
            t_spark < t_local,
        ),
        Figure(
            "routing fan-out: Spark's routes equal the loop's",
            "identical routes",
            f"{'identical' if same else 'DIFFERENT'} ({len(local):,} rows, {dropped} dropped)",
            scale,
            same,
        ),
    ]


def main() -> None:
    """Run the benchmark and save bench/results/fanout.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", default="/work/worlds/demo.duckdb")
    parser.add_argument("--large", default="/work/worlds/large.duckdb")
    parser.add_argument("--iterations", type=int, default=rt_fanout.ITERATIONS)
    args = parser.parse_args()
    session, started = _timed(sparkmod.session, "linli-bench")
    master = sparkmod.master()
    figures = [
        Figure("Spark session start (not in the figures below)", "-", f"{started:.1f} s", master)
    ]
    if os.path.exists(args.demo):
        figures += forecast(args.demo, session)
    if os.path.exists(args.large):
        figures += routing(args.large, session, args.iterations)
    load = os.getloadavg()[0]
    emit(
        "fanout",
        figures,
        note=(
            f"python -m bench.fanout; Spark {master}, load average {load:.1f} at the end "
            "(2 cores shared with other jobs: speed-ups are pessimistic)"
        ),
    )
    sparkmod.stop()


if __name__ == "__main__":
    main()
