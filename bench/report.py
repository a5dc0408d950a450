"""`make bench`: run every benchmark script and write one Markdown table.

Each ``bench/<name>.py`` prints its own table and saves ``bench/results/<name>.json`` through
:func:`bench.common.emit`. This script runs them one after another (they need the machine to
themselves), then writes ``bench/results.md`` and the README section between the
``bench:start`` and ``bench:end`` markers. ``--only a,b`` runs a subset; ``--collect`` only
rebuilds the table from saved results.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SKIP = {"__init__", "common", "report"}


def scripts() -> list[str]:
    """Names of the benchmark modules."""
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in SKIP)


def table() -> str:
    """One Markdown table of every saved result."""
    rows = [
        "| area | figure | goal | measured | scale | met | machine |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted((BENCH / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for f in data["figures"]:
            met = "—" if f.get("ok") is None else ("yes" if f["ok"] else "**no**")
            rows.append(
                f"| {data['name']} | {f['figure']} | {f['goal']} | {f['measured']} | "
                f"{f['scale']} | {met} | {data['machine']} |"
            )
    return "\n".join(rows)


def main() -> int:
    """Run the benchmarks and write the report; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m bench.report")
    ap.add_argument("--only", default="")
    ap.add_argument("--collect", action="store_true")
    args = ap.parse_args()
    failed = []
    if not args.collect:
        names = [n for n in scripts() if not args.only or n in args.only.split(",")]
        for name in names:
            print(f"== bench.{name}", flush=True)
            t0 = time.perf_counter()
            rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT)
            print(f"== bench.{name} finished in {time.perf_counter() - t0:.0f} s (exit {rc})")
            if rc:
                failed.append(name)
    md = table()
    (BENCH / "results.md").write_text("# Benchmark results\n\n" + md + "\n", encoding="utf-8")
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = re.sub(
        r"<!-- bench:start -->.*<!-- bench:end -->",
        "<!-- bench:start -->\n" + md + "\n<!-- bench:end -->",
        text,
        flags=re.S,
    )
    readme.write_text(text, encoding="utf-8")
    print(md)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
