"""The batch build: the serving tables computed from the lake, on DuckDB or on Apache Spark.

Both engines run the same formulas (:mod:`engine.lake.formulas`). The serving database is a
Linli database whose input tables are views over the lake (:func:`engine.lake.attach`,
persistent) and whose rollups are tables: the app opens it like any other file.

On Spark each formula's result is written as Parquet next to the serving database, then
loaded into DuckDB with the column types DuckDB's own formula gives (Spark has no HUGEINT;
identical values, identical types). ``rollup_buyer_bits`` is finished in DuckDB from the
buyer rollups Spark wrote. Spark sums in another order than DuckDB, so its floating-point sums
may differ in the last digits (about 1e-15 relative).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from engine import db as dbmod
from engine.lake import formulas, views
from engine.lake.export import LakeError

ENGINES = ("duckdb", "spark")


def check_lake(lake: str | Path) -> list[str]:
    """The lake's tables, after checking that every input of the formulas is there.

    Raises
    ------
    LakeError
        When the lake is missing or lacks a table the formulas read (named).
    """
    present = views.tables(lake)
    missing = [t for t in formulas.INPUTS if t not in present]
    if missing:
        raise LakeError(
            f"the lake {lake} has no {', '.join(missing)} table(s); "
            "export the database again (python -m engine.lake export)"
        )
    return present


def _store(con: duckdb.DuckDBPyConnection, f: formulas.Formula, select: str) -> int:
    con.execute(
        f"CREATE OR REPLACE TABLE {f.name} AS SELECT * FROM ({select}) ORDER BY {f.order_by}"
    )
    return int(con.execute(f"SELECT count(*) FROM {f.name}").fetchall()[0][0])


def _typed(con: duckdb.DuckDBPyConnection, f: formulas.Formula, files: Path) -> str:
    """SELECT of Spark's output with the column names and types of DuckDB's formula."""
    cols = con.execute(f"DESCRIBE SELECT * FROM ({f.sql})").fetchall()
    parts = [f'CAST("{c[0]}" AS {c[1]}) AS "{c[0]}"' for c in cols]  # names from DuckDB
    path = "'" + str(files / "*.parquet").replace("'", "''") + "'"
    return f"SELECT {', '.join(parts)} FROM read_parquet({path})"


def _spark_outputs(lake: Path, out: Path, todo: list[formulas.Formula]) -> dict[str, float]:
    """Run the Spark formulas over the lake, writing each result as Parquet under ``out``."""
    from engine import spark as sparkmod

    session = sparkmod.session("linli-lake-build")
    # List day partitions on the driver: a Spark job per table to list a few thousand
    # folders costs more than it saves (Spark's default threshold is 32 paths).
    session.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
    root = str(lake.resolve())
    for table in formulas.INPUTS:
        reader = session.read.option("basePath", f"{root}/{table}")
        df = reader.parquet(f"{root}/{table}")
        if table == "order_items":
            df = df.drop("order_date")
        df.createOrReplaceTempView(table)
    seconds = {}
    for f in todo:
        t0 = time.perf_counter()
        session.sql(f.spark_sql()).write.mode("overwrite").parquet(str(out / f.name))
        seconds[f.name] = time.perf_counter() - t0
    return seconds


def build(
    lake: str | Path,
    db: str | Path,
    engine: str = "duckdb",
    progress: Callable[[str], None] | None = None,
    memory_limit: str | None = None,
) -> dict[str, int]:
    """Compute every serving table from the lake into the serving database ``db``.

    Parameters
    ----------
    lake
        A lake written by :func:`engine.lake.export`.
    db
        The serving database file; created when missing. Its input tables become views
        over the lake; its serving tables are replaced.
    engine
        ``duckdb`` (in this process) or ``spark`` (``engine.spark.session()``:
        ``LINLI_SPARK_MASTER`` or ``local[N]``).
    progress
        Called with one line per table built.
    memory_limit
        DuckDB's memory limit for the build (e.g. ``"4GB"``; DuckDB spills to disk beyond
        it); default DuckDB's own (80 % of RAM).

    Returns
    -------
    dict of str to int
        Rows per serving table.

    Raises
    ------
    ValueError
        For an unknown engine.
    LakeError
        For a missing lake or a lake without a table the formulas read.
    engine.spark.SparkUnavailableError
        When Spark is asked for and cannot start.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    root = Path(lake)
    check_lake(root)
    say = progress or (lambda _line: None)
    con = dbmod.connect(db, verify_blocks=False)
    out = Path(f"{db}.spark-{uuid.uuid4().hex[:8]}")
    rows: dict[str, int] = {}
    try:
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        views.attach(con, root, persistent=True)
        todo = list(formulas.formulas())
        if engine == "spark":
            spark_side = [f for f in todo if f.spark]
            seconds = _spark_outputs(root, out, spark_side)
            for f in spark_side:
                rows[f.name] = _store(con, f, _typed(con, f, out / f.name))
                say(f"{f.name}: {rows[f.name]} rows (spark {seconds[f.name]:.1f} s)")
            todo = [f for f in todo if not f.spark]
        for f in todo:
            t0 = time.perf_counter()
            rows[f.name] = _store(con, f, f.sql)
            say(f"{f.name}: {rows[f.name]} rows (duckdb {time.perf_counter() - t0:.1f} s)")
        last = con.execute("SELECT max(day) FROM rollup_orders").fetchall()[0][0]
        if isinstance(last, date):
            dbmod.set_meta(con, "as_of", last.isoformat())
        dbmod.set_meta(con, "data_version", f"lake-{engine}-{uuid.uuid4().hex[:12]}")
    finally:
        con.close()
        shutil.rmtree(out, ignore_errors=True)
    return rows
