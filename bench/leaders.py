"""Benchmark: the leader workbench's queries and coupon trials.

Run: ``python -m bench.leaders [--db PATH] [--trials N]``. Timings use ``--db`` (default
``/tmp/linli-demo.duckdb``, built with ``python -m data.generate --scale demo --seed 1 --db
/tmp/linli-demo.duckdb``); the coverage of the uplift interval uses fresh ``small`` worlds:
each trial randomises a new hold-out, plants a known effect and measures it, and the share of
95 % intervals that cover the planted effect should be about 95 %. Wall-clock times on a
shared machine: other jobs may inflate them.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from bench.common import Figure, emit, median_ms
from data import coupons as plant
from data import generate
from engine import clock
from engine import db as dbmod
from engine.coupons import issue, uplift
from engine.leaders import commission, pickup, ranking

DEFAULT_DB = Path("/tmp/linli-demo.duckdb")


def _offers(con: duckdb.DuckDBPyConnection, day, days: int = 30):
    return con.execute(
        "SELECT DISTINCT user_id, 5.0 AS coupon FROM orders WHERE status = 'paid' "
        "AND order_date BETWEEN ? AND ?",
        [day - timedelta(days=days), day - timedelta(days=1)],
    ).df()


def timings(db: Path) -> list[Figure]:
    """Workbench queries and one coupon trial on a copy of ``db``."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / db.name
        shutil.copy(db, copy)
        con = dbmod.connect(copy)
        scale = con.execute("SELECT value FROM meta WHERE key = 'scale'").fetchone()[0]
        hi = clock.as_of(con)
        busiest = con.execute(
            "SELECT pickup_id FROM orders WHERE order_date = ? GROUP BY 1 ORDER BY count(*) DESC "
            "LIMIT 1",
            [hi],
        ).fetchone()[0]
        lines = pickup.pickup_list(con, busiest)
        t_list = median_ms(lambda: pickup.by_customer(pickup.pickup_list(con, busiest)), 7, 1)
        t_near = median_ms(lambda: pickup.near_threshold(con, busiest), 7, 1)
        lo = hi - timedelta(days=29)
        t_stmt = median_ms(lambda: commission.statement(con, lo, hi), 5, 1)
        t_rank = median_ms(lambda: ranking.ranking(con, lo, hi), 5, 1)
        day = hi - timedelta(days=13)
        offers = _offers(con, day)
        sent = []
        t0 = time.perf_counter()
        trial = issue.issue(
            con,
            offers,
            day,
            send=lambda **m: sent.append(m) or True,
            username="bench",
            settings=issue.CouponSettings(valid_days=14),
        )
        t_issue = time.perf_counter() - t0
        t0 = time.perf_counter()
        u = uplift.measure(con, trial.trial_id)
        t_measure = time.perf_counter() - t0
        con.close()
    n_cust = lines["user_id"].nunique()
    return [
        Figure(
            f"pickup list by customer (busiest point, {n_cust} customers)",
            "≤ 200 ms",
            f"{t_list:.0f} ms",
            scale,
            bool(t_list <= 200),
        ),
        Figure(
            "groups near threshold (one point)",
            "≤ 200 ms",
            f"{t_near:.0f} ms",
            scale,
            bool(t_near <= 200),
        ),
        Figure(
            "commission statement, 30 days, all leaders",
            "≤ 1 s",
            f"{t_stmt:.0f} ms",
            scale,
            bool(t_stmt <= 1000),
        ),
        Figure(
            "leader ranking and tiers, 30 days",
            "≤ 1 s",
            f"{t_rank:.0f} ms",
            scale,
            bool(t_rank <= 1000),
        ),
        Figure(
            f"issue a coupon trial ({trial.n_coupon:,} coupons sent, {trial.n_holdout:,} held out)",
            "≤ 30 s",
            f"{t_issue:.1f} s",
            scale,
            bool(t_issue <= 30),
        ),
        Figure(
            "measure its uplift (orders, buyers, spend; Welch + CUPED)",
            "≤ 5 s",
            f"{t_measure:.2f} s (orders/user {u.orders_cuped.uplift:+.3f}, "
            f"95 % [{u.orders_cuped.low:+.3f}, {u.orders_cuped.high:+.3f}], no planted effect)",
            scale,
            bool(t_measure <= 5),
        ),
    ]


def coverage(trials: int, effect: float = 0.3) -> list[Figure]:
    """Share of 95 % intervals covering a planted effect over independent randomisations."""
    cover_raw = cover_cuped = detect = 0
    widths = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "small.duckdb"
        generate.generate(base, scale="small", seed=7).close()
        for k in range(trials):
            path = Path(tmp) / f"t{k}.duckdb"
            shutil.copy(base, path)
            con = dbmod.connect(path)
            day = clock.as_of(con) - timedelta(days=20)
            s = issue.CouponSettings(holdout_share=0.5, valid_days=21, seed=1000 + k)
            tr = issue.issue(con, _offers(con, day), day, send=lambda **_: True,
                             username="bench", settings=s)  # fmt: skip
            plant.plant(con, tr.trial_id, effect, seed=2000 + k)
            u = uplift.measure(con, tr.trial_id)
            cover_raw += u.orders.low <= effect <= u.orders.high
            cover_cuped += u.orders_cuped.low <= effect <= u.orders_cuped.high
            detect += u.orders_cuped.low > 0
            widths.append(u.orders_cuped.high - u.orders_cuped.low)
            con.close()
            path.unlink()
    return [
        Figure(
            f"95 % interval covers a planted +{effect} orders/user (raw difference)",
            "≈ 95 %",
            f"{cover_raw}/{trials}",
            "small",
            bool(cover_raw >= 0.85 * trials),
        ),
        Figure(
            "… with the pre-period adjustment (CUPED)",
            "≈ 95 %",
            f"{cover_cuped}/{trials} (mean width {sum(widths) / len(widths):.2f})",
            "small",
            bool(cover_cuped >= 0.85 * trials),
        ),
        Figure("… effect detected (interval above 0)", "—", f"{detect}/{trials}", "small"),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB)
    ap.add_argument("--trials", type=int, default=40)
    args = ap.parse_args(argv)
    figures = timings(args.db) if args.db.exists() else []
    figures += coverage(args.trials)
    emit("leaders", figures, "" if args.db.exists() else f"{args.db} missing: timings skipped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
