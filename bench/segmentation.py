"""Benchmark: segmentation + churn scoring of every user, KOC ranking and community profiles.

Run: ``python -m bench.segmentation [--db PATH]`` (default ``/tmp/linli-large.duckdb``,
built with ``python -m data.generate --scale large --seed 1 --db /tmp/linli-large.duckdb``).
Prints a markdown table (figure, goal, measured, scale). Wall-clock times on a shared
machine: other jobs may inflate them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
from sklearn.metrics import adjusted_rand_score

from engine import segmentation
from engine.segmentation import features, koc, profiles

DEFAULT_DB = Path("/tmp/linli-large.duckdb")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def page_times(db: Path) -> list[tuple[str, str, str, str]]:
    """Cold run and warm rerun of both pages in AppTest against a copy of ``db``."""
    from streamlit.testing.v1 import AppTest

    scale = duckdb.connect(str(db), read_only=True)
    name = scale.execute("SELECT value FROM meta WHERE key = 'scale'").fetchone()[0]
    scale.close()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / db.name
        shutil.copy(db, copy)
        os.environ.update(LINLI_DB=str(copy), LINLI_AUTH="none", LINLI_MQTT_URL="none")
        app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
        out = []
        for page in ("communities", "segments"):
            at = AppTest.from_file(app, default_timeout=900)
            at.switch_page(f"../pages/{page}.py")
            _, cold = _timed(at.run)
            _, warm = _timed(at.run)
            assert not at.exception, at.exception
            out.append(
                (f"{page} page, first run (builds rollup, caches)", "—", f"{cold:.2f} s", name)
            )
            out.append((f"{page} page, warm rerun", "≤ 1 s", f"{warm:.2f} s", name))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", type=Path, default=DEFAULT_DB)
    ap.add_argument(
        "--page-db",
        type=Path,
        default=None,
        help="also time the two pages in AppTest on a copy of this (smaller) world",
    )
    args = ap.parse_args(argv)
    if not args.db.exists():
        print(f"no database at {args.db}; build it with python -m data.generate --scale large")
        return 2
    # An in-memory database with the file attached read-only: the per-user-day rollup
    # (normally refreshed with the KPI rollups when data change) is built in memory.
    con = duckdb.connect()
    con.execute("ATTACH ? AS world (READ_ONLY)", [str(args.db)])
    con.execute("USE world")
    scale = con.execute("SELECT value FROM meta WHERE key = 'scale'").fetchone()[0]
    n_users = con.execute("SELECT count(*) FROM users").fetchone()[0]
    n_lines = con.execute("SELECT count(*) FROM order_items").fetchone()[0]

    rows = []
    has_rollup = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [features.ROLLUP]
    ).fetchone()[0]
    if not has_rollup:
        c0 = time.process_time()
        _, t_roll = _timed(
            lambda: con.execute(
                f"CREATE TABLE memory.main.{features.ROLLUP} AS "
                f"SELECT * FROM ({features.ROLLUP_SQL}) ORDER BY day"
            )
        )
        rows.append(
            (
                "rollup_user_days refresh (once per data change)",
                "—",
                f"{t_roll:.2f} s (CPU {time.process_time() - c0:.1f} s)",
            )
        )
    c0 = time.process_time()
    seg, t_seg = _timed(lambda: segmentation.run(con))
    rows.append(
        (
            "segmentation + churn scoring, all users",
            "≤ 10 s",
            f"{t_seg:.2f} s (CPU {time.process_time() - c0:.1f} s)",
        )
    )
    lo, hi = con.execute("SELECT min(order_date), max(order_date) FROM orders").fetchone()
    start = max(lo, hi - timedelta(days=29))
    ranks, t_koc = _timed(lambda: koc.rank(con))  # reads chat and orders directly
    rows.append(("KOC ranking, all communities (90 days)", "—", f"{t_koc:.2f} s"))
    table, t_tab = _timed(lambda: profiles.community_table(con, start, hi))
    rows.append(("community table, 30 days (cold cache)", "—", f"{t_tab:.2f} s"))
    _, t_prof = _timed(
        lambda: profiles.profile(
            table, 1, seg.users[["user_id", "persona"]], seg.tags, ranks, seg.users
        )
    )
    rows.append(("one profile from cached results (warm rerun)", "≤ 1 s", f"{t_prof:.3f} s"))

    truth = con.execute("SELECT user_id, persona, is_koc FROM truth_user_persona").df()
    d = seg.users.merge(truth, on="user_id", suffixes=("", "_truth"))
    ari = adjusted_rand_score(d["persona_truth"], d["persona"])
    rows.append(("persona adjusted Rand index", "≥ 0.6", f"{ari:.3f}"))
    rows.append(("churn AUC on the later window", "≥ 0.75", f"{seg.churn.auc_holdout:.3f}"))
    top = ranks.head(10).merge(truth, on="user_id")
    rows.append(("KOC precision@10", "≥ 0.8", f"{top['is_koc'].mean():.2f}"))

    print(
        f"\nSegmentation benchmark — {args.db.name}: scale {scale}, {n_users:,} users, "
        f"{n_lines:,} order lines; {os.cpu_count()} CPUs shared with other jobs, "
        "so times are upper bounds.\n"
    )
    table = [(fig, goal, val, scale) for fig, goal, val in rows]
    if args.page_db is not None:
        table += page_times(args.page_db)
    print("| figure | goal | measured | scale |")
    print("|---|---|---|---|")
    for fig, goal, val, sc in table:
        print(f"| {fig} | {goal} | {val} | {sc} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
