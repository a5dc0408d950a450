"""Security hardening costs: the block check on open, and lock-out under concurrent guesses.

Usage: ``python -m bench.security [--rows 5000000]``. Prints a table and saves
``bench/results/security.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from bench.common import Figure, emit, median_ms
from data import generate
from engine import auth, db


def verify_figures(rows: int) -> list[Figure]:
    d = Path(tempfile.mkdtemp())
    small = d / "small.duckdb"
    generate.generate(small, scale="small", seed=1).close()
    big = d / "lines.duckdb"
    con = duckdb.connect(str(big))
    con.execute(
        "CREATE TABLE order_items AS SELECT range AS order_id, range % 3000 AS sku_id, "
        "1 + range % 4 AS qty, (range % 977) * 0.1 AS unit_price, 0 AS refund_qty "
        "FROM range(?)",
        [rows],
    )
    con.close()
    figs = []
    for path, scale in ((small, "small world"), (big, f"{rows:,} order lines")):
        con = duckdb.connect(str(path), read_only=True)
        ms = median_ms(lambda c=con, p=path: db.verify(c, str(p)), repeat=5, warmup=1)
        con.close()
        size = path.stat().st_size / 1e6
        figs.append(
            Figure("block check on open (engine.db.verify)", "< 1 s", f"{ms:.0f} ms",
                   f"{scale}, {size:.0f} MB", ms < 1000)
        )  # fmt: skip
    return figs


def lockout_figure(n: int = 32) -> Figure:
    d = Path(tempfile.mkdtemp())
    con = db.connect(d / "auth.duckdb")
    auth.create_user(con, "bench.user", "correct horse 1", "analyst")
    checks = [0]
    real = auth._HASHER

    class Counting:
        def verify(self, h, p):
            checks[0] += 1
            return real.verify(h, p)

        def hash(self, p):
            return real.hash(p)

    auth._HASHER = Counting()  # type: ignore[assignment]
    cursors = [con.cursor() for _ in range(n)]
    barrier = threading.Barrier(n)
    raw = []

    def guess(i: int) -> None:
        barrier.wait()
        try:
            auth.authenticate(cursors[i], "bench.user", f"wrong {i} guess")
        except auth.AuthError:
            pass
        except Exception as exc:  # counted: the figure is "no raw exceptions"
            raw.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t0
    auth._HASHER = real
    con.close()
    ok = checks[0] <= auth.MAX_FAILURES and not raw
    return Figure(
        "password checks under concurrent wrong guesses", "≤ 5, no raw exception",
        f"{checks[0]} checks, {len(raw)} raw, {took:.2f} s", f"{n} threads, one cursor each", ok,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.security")
    ap.add_argument("--rows", type=int, default=5_000_000)
    args = ap.parse_args()
    emit("security", [*verify_figures(args.rows), lockout_figure()])


if __name__ == "__main__":
    main()
