"""Benchmark engine.basket: synthetic 1M orders x 300 SKUs, and the public Groceries data.

Run from the repository root: ``python -m bench.basket [--orders N] [--skus M] [--seed S]``.
``python -m bench.basket --spark`` instead times Spark MLlib's FP-Growth (``engine="spark"``,
Spark local[2]) on Groceries at the three published settings, checks its rules equal the
local path's, and records those rows in ``bench/results/basket.json`` (other rows kept).
Prints a markdown table (figure, goal, measured, scale). Peak memory is the process's peak
resident set size (``resource.getrusage``), which includes building the synthetic data, so it
over- rather than under-states what mining needs.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engine import basket

ROOT = Path(__file__).resolve().parent.parent
GROCERIES = [
    ROOT.parent / "shared" / "benchmarks" / "basket" / "groceries.csv",
    ROOT / "tests" / "data" / "groceries.csv",
]


def synthetic(n_orders: int, n_skus: int, seed: int) -> pd.DataFrame:
    """Order lines with Zipf-like SKU popularity and planted pairs.

    Basket size is 1 + Poisson(3); items are drawn by popularity ~ rank^-0.9; for 30
    planted pairs (a, b) an order containing a also gets b with probability 0.6.
    """
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_skus + 1) ** 0.9
    popularity /= popularity.sum()
    sizes = 1 + rng.poisson(3.0, n_orders)
    order_id = np.repeat(np.arange(n_orders, dtype=np.int64), sizes)
    item = rng.choice(n_skus, size=order_id.size, p=popularity)
    heads = rng.choice(n_skus, size=30, replace=False)
    tails = (heads + 1 + rng.integers(0, n_skus - 1, size=30)) % n_skus
    extra_orders, extra_items = [], []
    for a, b in zip(heads, tails, strict=True):
        with_a = np.unique(order_id[item == a])
        add = with_a[rng.random(with_a.size) < 0.6]
        extra_orders.append(add)
        extra_items.append(np.full(add.size, b))
    order_id = np.concatenate([order_id, *extra_orders])
    item = np.concatenate([item, *extra_items])
    return pd.DataFrame({"order_id": order_id, "item": item})


def timed(func, *args, **kwargs):
    """Call ``func`` and return its result, wall-clock seconds and process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def peak_rss_gib() -> float:
    """Peak resident set size of this process in GiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024 if sys.platform != "darwin" else 1024**2) / 1024


def groceries() -> pd.DataFrame | None:
    """Groceries as order lines, from ../shared or tests/data, or None if neither exists."""
    for path in GROCERIES:
        if path.exists():
            lines = path.read_text().splitlines()
            rows = [(i, it) for i, line in enumerate(lines) for it in line.split(",")]
            return pd.DataFrame(rows, columns=["order_id", "item"])
    return None


SETTINGS = [(0.006, 0.25, 2, 463), (0.001, 0.8, 1, 410), (0.001, 0.5, 1, 5668)]


def spark_rows(grocery: pd.DataFrame) -> list[dict]:
    """Groceries on Spark's FP-Growth at the three settings: rules, time, equal to local."""
    from engine import spark as sparkmod

    _, started, _ = timed(sparkmod.session, "linli-bench")
    master = sparkmod.master()
    rows = []
    for supp, conf, min_len, expect in SETTINGS:
        local = basket.rules(grocery, supp, conf, min_len=min_len)
        found, wall, _ = timed(basket.rules, grocery, supp, conf, min_len=min_len, engine="spark")
        same = found.equals(local)
        rows.append(
            {
                "figure": f"Spark FP-Growth ({master}) Groceries {supp}/{conf}/minlen {min_len}: "
                "rules, time, equal to the local path",
                "goal": f"{expect:,} (arules), identical rules",
                "measured": f"{len(found):,} in {wall:.1f} s wall; "
                f"{'identical' if same else 'DIFFERENT'}",
                "scale": f"Groceries 9,835 (session start {started:.0f} s not included)",
                "ok": bool(len(found) == expect and same),
            }
        )
    sparkmod.stop()
    return rows


def record_spark(rows: list[dict]) -> None:
    """Print the Spark rows and put them in bench/results/basket.json in place of old ones."""
    path = Path(__file__).with_name("results") / "basket.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    figures = [f for f in data["figures"] if not f["figure"].startswith("Spark")]
    data["figures"] = figures + rows
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    print("| figure | goal | measured | scale | met |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['figure']} | {r['goal']} | {r['measured']} | {r['scale']} | {r['ok']} |")


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=300)
    parser.add_argument("--support", type=float, default=0.001)
    parser.add_argument("--confidence", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spark", action="store_true", help="only the Spark FP-Growth rows")
    args = parser.parse_args()
    if args.spark:
        grocery = groceries()
        if grocery is None:
            sys.exit("Groceries not found (tests/data/groceries.csv)")
        record_spark(spark_rows(grocery))
        return

    rows: list[tuple[str, str, str, str]] = []
    grocery = groceries()
    if grocery is not None:
        scale = "Groceries: 9,835 baskets, 169 items"
        for supp, conf, min_len, expect in SETTINGS:
            for method in ("mlxtend", "sparse"):
                found, wall, cpu = timed(
                    basket.rules, grocery, supp, conf, min_len=min_len, method=method
                )
                rows.append(
                    (
                        f"Groceries rules supp {supp} / conf {conf} / minlen {min_len}, "
                        f"method {method}",
                        f"{expect} rules (arules)",
                        f"{len(found)} rules in {wall:.2f} s wall ({cpu:.2f} s CPU)",
                        scale,
                    )
                )

    start = time.perf_counter()
    tx = synthetic(args.orders, args.skus, args.seed)
    built = time.perf_counter() - start
    scale = f"{args.orders:,} orders x {args.skus} SKUs, {len(tx):,} order lines"
    found, took, cpu = timed(basket.rules, tx, args.support, args.confidence)
    peak = peak_rss_gib()
    lengths = (found["antecedents"].map(len) + 1).value_counts().sort_index().to_dict()
    rows += [
        ("synthetic data build (not timed against goal)", "-", f"{built:.1f} s", scale),
        (
            f"synthetic rules supp {args.support} / conf {args.confidence}",
            "<= 30 s",
            f"{took:.1f} s wall ({cpu:.1f} s CPU; {len(found):,} rules, lengths {lengths}; "
            "method auto -> sparse)",
            scale,
        ),
        ("peak RSS of the whole process", "<= 4 GiB", f"{peak:.2f} GiB", scale),
    ]

    print("| figure | goal | measured | scale |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(
        f"Note: measured on a shared machine (2 cores used by ~8 concurrent jobs; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}); timings are pessimistic and vary run to run."
    )


if __name__ == "__main__":
    main()
