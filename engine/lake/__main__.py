"""Command line of the lake.

Usage::

    python -m engine.lake export --db linli.duckdb --lake lake/
    python -m engine.lake build --lake lake/ --engine spark --db serving.duckdb

``export`` writes every input and fact table as Hive-partitioned Parquet; ``build`` computes
the serving tables on ``duckdb`` or ``spark`` (``LINLI_SPARK_MASTER``, else local[N]) into a
serving database whose input tables are views over the lake. Exit code 2 for a bad command
line, a missing database or lake, a lake without a needed table, or Spark unable to start.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from engine import db as dbmod
from engine import lake
from engine import spark as sparkmod


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m engine.lake", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write the lake from a database")
    ex.add_argument("--db", required=True, help="Linli database file (opened read-only)")
    ex.add_argument("--lake", required=True, help="lake folder (created when missing)")
    bu = sub.add_parser("build", help="compute the serving tables from the lake")
    bu.add_argument("--lake", required=True, help="lake folder written by export")
    bu.add_argument("--engine", default="duckdb", help="duckdb or spark")
    bu.add_argument("--db", required=True, help="serving database file (created when missing)")
    bu.add_argument("--memory-limit", help="DuckDB memory limit for the build, e.g. 4GB")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        if args.command == "export":
            if not Path(args.db).is_file():
                print(f"{args.db} does not exist", file=sys.stderr)
                return 2
            con = dbmod.connect(args.db, read_only=True, verify_blocks=False)
            try:
                counts = lake.export(con, args.lake)
            finally:
                con.close()
            for table, n in counts.items():
                print(f"{table}: {n} rows -> {Path(args.lake) / table}")
        else:
            if args.engine not in lake.ENGINES:
                print(
                    f"unknown engine {args.engine!r}; use one of {', '.join(lake.ENGINES)}",
                    file=sys.stderr,
                )
                return 2
            try:
                lake.build(
                    args.lake,
                    args.db,
                    args.engine,
                    progress=lambda line: print(line, flush=True),
                    memory_limit=args.memory_limit,
                )
            finally:
                if args.engine == "spark":
                    sparkmod.stop()
    except (lake.LakeError, dbmod.DatabaseError, sparkmod.SparkUnavailableError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
