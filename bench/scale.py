"""Benchmark: the lake and the batch build at scale, DuckDB against Spark local[2].

Run: ``python -m bench.scale [--phase large,100m] [--lines 100000000] [--reuse]``.

1. ``large``: the large world (/work/worlds/large.duckdb, ≈ 19M order lines) exported to the
   lake /work/worlds/lake-large, then the serving tables built from it on DuckDB and on Spark
   local[2]; wall time and peak memory (RSS summed over the process tree, the JVM included),
   and the KPI summary of both serving databases compared.
2. ``100m``: a synthetic lake of ≈ 100M order lines (/work/worlds/lake100m) written by DuckDB
   straight to partitioned Parquet: the large world replicated as new communities (its
   communities, leaders, users, campaigns, feedback, orders and lines copied with shifted ids
   on the same dates: a national platform has more communities, not more years), then built
   on DuckDB with a 4 GB memory limit, on Spark local[2], and on DuckDB with 16 GB and 1 GB.

Every command runs as its own process (``python -m engine.lake …``) so its memory is its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil

from bench.common import RESULTS, Figure, emit
from engine import lake
from engine.lake import views

WORLDS = Path("/work/worlds")
LARGE_DB = WORLDS / "large.duckdb"
LAKE_LARGE = WORLDS / "lake-large"
LAKE_100M = WORLDS / "lake100m"
ROOT = Path(__file__).resolve().parent.parent
# Tables replicated into the synthetic lake, with the id columns each copy moves: each copy
# is a new set of communities (with their users, leaders, orders, lines, campaigns and
# feedback) on the same dates, as a national platform has more communities, not more years.
REPLICATED = {
    "communities": ("community_id",),
    "leaders": ("leader_id", "community_id"),
    "users": ("user_id", "community_id"),
    "campaigns": ("campaign_id", "community_id"),
    "feedback": ("feedback_id", "order_id", "user_id", "community_id"),
    "orders": ("order_id", "user_id", "community_id", "ref_user_id"),
    "order_items": ("order_id", "campaign_id"),
}


def run(args: list[str], timeout: float = 7200) -> tuple[float, float, int, str]:
    """Run ``python -m …args``; (wall s, peak RSS GiB of the process tree, exit code, output)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    top = psutil.Process(proc.pid)
    peak = 0
    lines: list[str] = []
    import threading

    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            rss = 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        if time.perf_counter() - t0 > timeout:
            for p in [top, *top.children(recursive=True)]:
                p.kill()
            break
        time.sleep(0.25)
    proc.wait()
    reader.join(5)
    out = "".join(lines)
    print(out[-3000:], flush=True)
    return time.perf_counter() - t0, peak / 2**30, proc.returncode, out


def lines_in(lake: Path) -> int:
    """Order lines in a lake."""
    con = duckdb.connect()
    files = str(lake / "order_items" / "**" / "*.parquet")
    n = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()
    return int(n[0]) if n else 0


def kpis_equal(a: Path, b: Path) -> str:
    """Compare the whole-range KPI summary of two serving databases."""
    from engine import kpis

    ca, cb = (duckdb.connect(str(p), read_only=True) for p in (a, b))
    lo, hi = kpis.data_range(ca)
    x, y = kpis.summary(ca, lo, hi), kpis.summary(cb, lo, hi)
    worst = 0.0
    for u, v in zip(x["value"], y["value"], strict=True):
        if u is not None and v is not None and u == u and v == v:
            worst = max(worst, abs(u - v) / max(abs(u), 1e-300))
    ca.close()
    cb.close()
    return f"{len(x)} KPIs, largest relative difference {worst:.1e}"


def phase_large(figures: list[Figure]) -> None:
    """Export the large world, build it on DuckDB and on Spark local[2]."""
    wall, rss, rc, _ = run(
        ["engine.lake", "export", "--db", str(LARGE_DB), "--lake", str(LAKE_LARGE)]
    )
    n = lines_in(LAKE_LARGE)
    size = sum(f.stat().st_size for f in LAKE_LARGE.rglob("*.parquet")) / 2**30
    figures.append(
        Figure(
            "export the large world to the Parquet lake",
            "runs; Hive-partitioned",
            f"{wall:.0f} s, peak {rss:.1f} GiB, {size:.2f} GiB of Parquet (exit {rc})",
            f"{n:,} order lines",
            rc == 0,
        )
    )
    emit("scale", figures, NOTE)
    serving = {}
    for engine in ("duckdb", "spark"):
        db = WORLDS / f"serve-large-{engine}.duckdb"
        db.unlink(missing_ok=True)
        wall, rss, rc, _ = run(
            ["engine.lake", "build", "--lake", str(LAKE_LARGE), "--engine", engine, "--db", str(db)]
        )
        serving[engine] = db
        figures.append(
            Figure(
                f"serving tables from the large lake on {engine}"
                + (" local[2]" if engine == "spark" else " (2 threads)"),
                "runs",
                f"{wall:.0f} s, peak RSS {rss:.1f} GiB"
                + (" incl. the JVM" if engine == "spark" else "")
                + f" (exit {rc})",
                f"{n:,} order lines",
                rc == 0,
            )
        )
        emit("scale", figures, NOTE)
    figures.append(
        Figure(
            "KPI summary (whole range): Spark serving DB vs DuckDB serving DB",
            "equal to 12 digits",
            kpis_equal(serving["duckdb"], serving["spark"]),
            f"{n:,} order lines",
            None,
        )
    )
    emit("scale", figures, NOTE)


def write_100m(target_lines: int) -> tuple[float, int]:
    """Write the synthetic lake from the large lake; (seconds, order lines)."""
    t0 = time.perf_counter()
    shutil.rmtree(LAKE_100M, ignore_errors=True)
    LAKE_100M.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET memory_limit = '6GB'")
    src = LAKE_LARGE
    for table in REPLICATED:
        con.execute(f"CREATE VIEW {table} AS {views.source(src, table)}")
    ids = {c for cols in REPLICATED.values() for c in cols}
    tops = {}
    for col, table in (
        ("community_id", "communities"),
        ("leader_id", "leaders"),
        ("user_id", "users"),
        ("campaign_id", "campaigns"),
        ("feedback_id", "feedback"),
        ("order_id", "orders"),
    ):
        tops[col] = int(con.execute(f"SELECT max({col}) FROM {table}").fetchone()[0]) + 1
    tops["ref_user_id"] = tops["user_id"]
    assert ids <= set(tops)
    per_comm = con.execute(
        "SELECT o.community_id, sum(count(*)) OVER (ORDER BY o.community_id) "
        "FROM order_items i JOIN orders o USING (order_id) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    per_copy = per_comm[-1][1]
    copies = -(-target_lines // per_copy)
    rest = target_lines - (copies - 1) * per_copy
    cutoff = next(c for c, cum in per_comm if cum >= rest)  # last copy: communities ≤ cutoff
    for table, cols in REPLICATED.items():
        for c in range(copies):
            moved = ", ".join(f"{col} + {c * tops[col]} AS {col}" for col in cols)
            where = "TRUE"
            if c == copies - 1:
                where = (
                    f"community_id <= {cutoff}"
                    if table != "order_items"
                    else f"order_id IN (SELECT order_id FROM orders WHERE community_id <= {cutoff})"
                )
            if table == "order_items":
                sel = (
                    f"SELECT i.* REPLACE ({moved.replace('order_id +', 'i.order_id +')}), "
                    "o.order_date FROM order_items i JOIN orders o USING (order_id) "
                    f"WHERE {where.replace('order_id IN', 'i.order_id IN')}"
                )
            else:
                sel = f"SELECT * REPLACE ({moved}) FROM {table} WHERE {where}"
            folder = LAKE_100M / table
            folder.mkdir(exist_ok=True)
            if table in lake.PARTITIONS:
                con.execute(
                    f"COPY ({sel}) TO '{folder}' (FORMAT parquet, PARTITION_BY (order_date), "
                    f"OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'copy{c}_{{i}}', "
                    "COMPRESSION zstd)"
                )
            else:
                con.execute(f"COPY ({sel}) TO '{folder / f'copy{c}.parquet'}' (FORMAT parquet)")
            print(f"{table} copy {c + 1}/{copies} written", flush=True)
    for folder in LAKE_LARGE.iterdir():
        if not (LAKE_100M / folder.name).exists() and folder.name != "telemetry":
            shutil.copytree(folder, LAKE_100M / folder.name)
    con.close()
    return time.perf_counter() - t0, lines_in(LAKE_100M)


def phase_100m(figures: list[Figure], target: int, reuse: bool) -> None:
    """Write the synthetic lake (unless reused) and build it on DuckDB with a 4 GB memory
    limit, on Spark, then on DuckDB with 16 GB and with 1 GB."""
    if reuse and (LAKE_100M / "order_items").is_dir():
        n = lines_in(LAKE_100M)
    else:
        wall, n = write_100m(target)
        figures.append(
            Figure(
                "synthetic lake written by DuckDB (large lake replicated as new communities)",
                "runs",
                f"{wall:.0f} s",
                f"{n:,} order lines",
                n >= target * 0.999,
            )
        )
        emit("scale", figures, NOTE)
    runs = [("duckdb", "4GB"), ("spark", None), ("duckdb", "16GB"), ("duckdb", "1GB")]
    for engine, limit in runs:
        db = WORLDS / f"serve-100m-{engine}{limit or ''}.duckdb"
        db.unlink(missing_ok=True)
        cmd = ["engine.lake", "build", "--lake", str(LAKE_100M), "--engine", engine]
        cmd += ["--db", str(db)] + (["--memory-limit", limit] if limit else [])
        wall, rss, rc, out = run(cmd)
        tail = out.strip().splitlines()[-1][:160] if out.strip() else ""
        what = f"{wall:.0f} s, peak RSS {rss:.1f} GiB (exit {rc})"
        if rc:
            what += f": {tail}"
        figures.append(
            Figure(
                f"serving tables from the 100M lake on {engine}"
                + (" local[2]" if engine == "spark" else f", memory_limit {limit}"),
                "runs",
                what,
                f"{n:,} order lines",
                rc == 0,
            )
        )
        emit("scale", figures, NOTE)


NOTE = (
    "Peak RSS sums every process of the command's tree (the JVM for Spark), sampled every "
    "0.25 s. The machine's 2 cores were shared with other work during the run."
)


def main() -> int:
    """Run the phases asked for."""
    ap = argparse.ArgumentParser(prog="python -m bench.scale")
    ap.add_argument("--phase", default="large,100m")
    ap.add_argument("--lines", type=int, default=100_000_000)
    ap.add_argument("--reuse", action="store_true", help="build an existing synthetic lake")
    args = ap.parse_args()
    if not LARGE_DB.exists():
        print(f"{LARGE_DB} is missing: generate the large world first", file=sys.stderr)
        return 2
    phases = args.phase.split(",")
    figures: list[Figure] = []
    saved = RESULTS / "scale.json"
    if "large" not in phases and saved.exists():  # keep the large world's rows
        rows = json.loads(saved.read_text(encoding="utf-8"))["figures"]
        redo = ("serving tables from the 100M lake",)
        figures = [Figure(**r) for r in rows if not r["figure"].startswith(redo)]
    if "large" in phases:
        phase_large(figures)
    if "100m" in phases:
        phase_100m(figures, args.lines, args.reuse)
    emit("scale", figures, NOTE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
